package io.handoffbroker.unix;

/**
 * What a failure says, for a log line or a person: its message, or, for the failures
 * junixsocket reports without one (a peer gone mid-write, a closed channel), its type.
 */
public final class FailureText {

    private FailureText() {
    }

    public static String of(Throwable failure) {
        return failure.getMessage() != null ? failure.getMessage() : failure.getClass().getSimpleName();
    }
}
