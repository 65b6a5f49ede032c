package io.tern.cli;

/** A check of {@code tern demo} that failed; its message is what the demo prints after {@code demo FAILED: }. */
final class DemoFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DemoFailure(String message) {
        super(message);
    }
}
