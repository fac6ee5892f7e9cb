package dev.dora4j.tokenizer;

import java.util.Arrays;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * llama2.c's merge loop: while some adjacent pair of tokens concatenates to a token of the vocabulary,
 * replace the pair whose result has the highest score (the leftmost such pair on a tie) by that token.
 * llama2.c rescans the whole sequence after every merge; this keeps the candidate pairs in a priority
 * queue and drops the stale ones as they surface, which makes the same merges in O(n log n).
 */
final class ScoredPairMerge {
    /** llama2.c starts its search for the best score here, so a pair scoring at or below it never merges. */
    static final float NO_SCORE = -1e10f;

    private final String[] pieces;
    private final float[] scores;
    private final Map<String, Integer> idsByPiece;

    ScoredPairMerge(String[] pieces, float[] scores, Map<String, Integer> idsByPiece) {
        this.pieces = pieces;
        this.scores = scores;
        this.idsByPiece = idsByPiece;
    }

    private record Candidate(float score, int left, int right, int leftId, int rightId, int mergedId) {
    }

    /** Merges {@code tokens[0..count)} and returns the merged sequence. */
    int[] merge(int[] tokens, int count) {
        if (count < 2) {
            return Arrays.copyOf(tokens, count);
        }
        int[] ids = Arrays.copyOf(tokens, count);
        int[] next = new int[count];
        int[] prev = new int[count];
        for (int i = 0; i < count; i++) {
            next[i] = i + 1 < count ? i + 1 : -1;
            prev[i] = i - 1;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>(count, ScoredPairMerge::order);
        for (int i = 0; i + 1 < count; i++) {
            offer(queue, ids, i, i + 1);
        }
        int remaining = count;
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            if (ids[c.left] != c.leftId || ids[c.right] != c.rightId || next[c.left] != c.right) {
                continue;
            }
            ids[c.left] = c.mergedId;
            ids[c.right] = -1;
            int after = next[c.right];
            next[c.left] = after;
            if (after >= 0) {
                prev[after] = c.left;
            }
            remaining--;
            if (prev[c.left] >= 0) {
                offer(queue, ids, prev[c.left], c.left);
            }
            if (after >= 0) {
                offer(queue, ids, c.left, after);
            }
        }
        int[] merged = new int[remaining];
        int n = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            merged[n++] = ids[i];
        }
        return merged;
    }

    private void offer(PriorityQueue<Candidate> queue, int[] ids, int left, int right) {
        Integer mergedId = idsByPiece.get(pieces[ids[left]] + pieces[ids[right]]);
        if (mergedId != null && scores[mergedId] > NO_SCORE) {
            queue.add(new Candidate(scores[mergedId], left, right, ids[left], ids[right], mergedId));
        }
    }

    /** Higher score first, then further left; scores compare as C floats do, so -0.0 ties with 0.0. */
    private static int order(Candidate a, Candidate b) {
        if (a.score > b.score) {
            return -1;
        }
        if (a.score < b.score) {
            return 1;
        }
        return Integer.compare(a.left, b.left);
    }
}
