package io.handoffbroker.handoff;

import io.handoffbroker.unix.FailureText;
import java.io.IOException;

/**
 * Nothing of a descriptor send went out: the sender still owns the only copy of the
 * descriptor, and the backend never saw it. The cause is the system's refusal.
 */
public final class DescriptorNotSentException extends IOException {

    public DescriptorNotSentException(IOException cause) {
        super(FailureText.of(cause), cause);
    }
}
