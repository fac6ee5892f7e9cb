package dev.dora4j;

/**
 * The project's one error type for bad input and failed operations. Its message is a single line
 * that names the file and, where there is one, the tensor, key or line at fault.
 */
public class DoraException extends RuntimeException {
    public DoraException(String message) {
        super(message);
    }

    public DoraException(String message, Throwable cause) {
        super(message, cause);
    }
}
