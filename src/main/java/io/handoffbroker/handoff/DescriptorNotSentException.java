package io.handoffbroker.handoff;

import java.io.IOException;

/**
 * Nothing of a descriptor send went out: the sender still owns the only copy of the
 * descriptor, and the backend never saw it. The cause is the system's refusal.
 */
public final class DescriptorNotSentException extends IOException {

    public DescriptorNotSentException(IOException cause) {
        // Some refusals come without a message (a closed channel, say): their type says it then.
        super(cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName(), cause);
    }
}
