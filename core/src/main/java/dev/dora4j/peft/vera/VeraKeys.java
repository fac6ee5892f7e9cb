package dev.dora4j.peft.vera;

import dev.dora4j.peft.PeftKeys;

/**
 * Tensor names of a VeRA adapter as PEFT's {@code save_pretrained} writes them: the shared projections
 * at model level, the scaling vectors per module without a {@code .weight} suffix; DVoRA's magnitude beside them.
 */
final class VeraKeys {
    /** The shared down projection [r, max in]. */
    static final String VERA_A = "base_model.vera_A";
    /** The shared up projection [max out, r]. */
    static final String VERA_B = "base_model.vera_B";
    static final String LAMBDA_B = ".vera_lambda_b";
    static final String LAMBDA_D = ".vera_lambda_d";
    static final String MAGNITUDE = ".vera_magnitude_vector";

    private VeraKeys() {}

    static String lambdaB(String path) {
        return PeftKeys.PREFIX + path + LAMBDA_B;
    }

    static String lambdaD(String path) {
        return PeftKeys.PREFIX + path + LAMBDA_D;
    }

    static String magnitude(String path) {
        return PeftKeys.PREFIX + path + MAGNITUDE;
    }
}
