package dev.dora4j.analysis;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a llama2.c checkpoint (legacy v0 format: seven int32 header fields, then float32 weights
 * grouped by kind across layers), under Hugging Face names, each read on its own from the file at a long
 * offset. The rows of q_proj and k_proj are reordered from llama2.c's interleaved rotary pairs to
 * transformers' halves, as the model loader does, so rows line up with trained Hugging Face weights.
 */
final class Llama2cBaseWeights extends BaseWeights {
    private static final int HEADER_BYTES = 7 * 4;

    /** Where a tensor lies: its first float after the header, its shape, and the head count to reorder by (0: none). */
    private record Entry(long offset, long[] shape, int heads) {}

    private final Path file;
    private final FileChannel channel;
    private final Map<String, Entry> entries;
    private final int headSize;

    private Llama2cBaseWeights(Path file, FileChannel channel, Map<String, Entry> entries, int headSize) {
        this.file = file;
        this.channel = channel;
        this.entries = entries;
        this.headSize = headSize;
    }

    static Llama2cBaseWeights openFile(Path file) {
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
            ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            if (channel.size() < HEADER_BYTES) {
                throw new DoraException(file + ": " + channel.size() + " bytes, too short for a llama2.c header");
            }
            readFully(channel, head, 0, file);
            int dim = head.getInt(0), hidden = head.getInt(4), layers = head.getInt(8), heads = head.getInt(12);
            int kvHeads = head.getInt(16), vocab = head.getInt(20), seqLen = head.getInt(24);
            boolean shared = vocab > 0;
            vocab = Math.abs(vocab);
            if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || seqLen <= 0
                    || dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0) {
                throw new DoraException(file + ": not a llama2.c checkpoint: header dim=" + dim + " hidden_dim=" + hidden
                        + " n_layers=" + layers + " n_heads=" + heads + " n_kv_heads=" + kvHeads + " vocab_size=" + vocab);
            }
            int headSize = dim / heads;
            Layout layout = new Layout(layers);
            Map<String, Entry> entries = new LinkedHashMap<>();
            layout.single(entries, "model.embed_tokens.weight", vocab, dim);
            layout.perLayer(entries, "input_layernorm.weight", 0, dim);
            layout.perLayer(entries, "self_attn.q_proj.weight", heads, dim, dim);
            layout.perLayer(entries, "self_attn.k_proj.weight", kvHeads, kvHeads * headSize, dim);
            layout.perLayer(entries, "self_attn.v_proj.weight", 0, kvHeads * headSize, dim);
            layout.perLayer(entries, "self_attn.o_proj.weight", 0, dim, dim);
            layout.perLayer(entries, "post_attention_layernorm.weight", 0, dim);
            layout.perLayer(entries, "mlp.gate_proj.weight", 0, hidden, dim);
            layout.perLayer(entries, "mlp.down_proj.weight", 0, dim, hidden);
            layout.perLayer(entries, "mlp.up_proj.weight", 0, hidden, dim);
            layout.single(entries, "model.norm.weight", dim);
            layout.skip((long) seqLen * headSize);
            if (!shared) layout.single(entries, "lm_head.weight", vocab, dim);
            long have = (channel.size() - HEADER_BYTES) / Float.BYTES;
            if (have != layout.next) {
                throw new DoraException(file + ": checkpoint holds " + have + " floats after its header but the header implies "
                        + layout.next + " (file truncated or header wrong)");
            }
            return new Llama2cBaseWeights(file, channel, entries, headSize);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /** Assigns consecutive offsets in the file's order. */
    private static final class Layout {
        private final int layers;
        private long next;

        Layout(int layers) {
            this.layers = layers;
        }

        void single(Map<String, Entry> entries, String name, long... shape) {
            entries.put(name, new Entry(next, shape, 0));
            next += numel(shape);
        }

        void perLayer(Map<String, Entry> entries, String suffix, int heads, long... shape) {
            for (int l = 0; l < layers; l++) {
                entries.put("model.layers." + l + "." + suffix, new Entry(next, shape, heads));
                next += numel(shape);
            }
        }

        void skip(long floats) {
            next += floats;
        }
    }

    @Override
    public Path source() {
        return file;
    }

    @Override
    public List<String> names() {
        return new ArrayList<>(entries.keySet());
    }

    @Override
    protected long[] shapeOf(String name) {
        return entries.get(name).shape().clone();
    }

    @Override
    protected float[] readValues(String name) {
        Entry e = entries.get(name);
        long count = numel(e.shape());
        if (count > Integer.MAX_VALUE - 8) throw new DoraException(file + ": tensor '" + name + "' is too large for one array");
        ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(count * Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        try {
            readFully(channel, bytes, HEADER_BYTES + e.offset() * Float.BYTES, file);
        } catch (IOException ex) {
            throw new DoraException(file + ": cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        }
        float[] values = new float[(int) count];
        bytes.asFloatBuffer().get(values);
        return e.heads() == 0 ? values : interleavedToHalves(values, e.heads(), headSize, (int) e.shape()[1]);
    }

    /** w: [heads·D, in], each head's rows ordered (re0, im0, re1, im1, ...) -> (re0, re1, ..., im0, im1, ...). */
    private static float[] interleavedToHalves(float[] w, int heads, int headSize, int in) {
        float[] out = new float[w.length];
        int half = headSize / 2;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < headSize; j++) {
                int src = j < half ? 2 * j : 2 * (j - half) + 1;
                System.arraycopy(w, (h * headSize + src) * in, out, (h * headSize + j) * in, in);
            }
        }
        return out;
    }

    private static void readFully(FileChannel channel, ByteBuffer into, long position, Path file) throws IOException {
        while (into.hasRemaining()) {
            int n = channel.read(into, position + into.position());
            if (n < 0) throw new DoraException(file + ": unexpected end of file at byte " + (position + into.position()));
        }
        into.flip();
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) return;
        try {
            channel.close();
        } catch (IOException ignored) {
            // The read failure is what the caller needs to see.
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
