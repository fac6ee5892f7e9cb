package dev.dora4j.tokenizer;

/**
 * Text to token ids and back. Implementations are immutable after loading and safe to share between
 * threads; {@link #close()} releases native resources where there are any.
 */
public interface Tokenizer extends AutoCloseable {

    /**
     * Token ids of {@code text}, with the BOS id in front when {@code addBos} and the EOS id at the end
     * when {@code addEos} (each only where the vocabulary has one).
     */
    int[] encode(String text, boolean addBos, boolean addEos);

    /** The text of {@code ids}: BOS, EOS and other special tokens are left out. */
    String decode(int[] ids);

    /**
     * The text of one token {@code id} that follows {@code prevId} (-1 at the start), as a generation
     * loop prints it. A token that holds only part of a multi-byte character comes out as U+FFFD; use
     * {@link #streamDecoder()} to print generated text exactly.
     */
    String decodeToken(int prevId, int id);

    /** A decoder that turns ids arriving one at a time into text, holding back partial characters. */
    default StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    /** Number of ids: one more than the largest id the tokenizer can produce or decode. */
    int vocabSize();

    /** The beginning-of-sequence id, or -1 if there is none. */
    int bosId();

    /** The end-of-sequence id, or -1 if there is none. */
    int eosId();

    /** Whether the model expects BOS in front of every sequence (Llama: yes; BERT's [CLS] counts). */
    boolean addBosByDefault();

    /** Where the tokenizer was loaded from, for messages. */
    String source();

    @Override
    default void close() {
    }
}
