package io.handoffbroker.handoff;

import java.util.Locale;

/**
 * The one result every handoff that reached the ACK stage ends in. The metric
 * label is the lower-case name.
 */
public enum AckResult {
    /** Timely, correlated, token echoed, accepted: the client now talks to the backend. */
    ACCEPTED,
    /** Timely, correlated, token echoed, {@code accepted=false}: the broker still owns the client connection. */
    REFUSED,
    /** An ACK arrived after the deadline, within the grace period: raise the deadline or fix a slow backend. */
    LATE,
    /** The ACK echoed another token. */
    TOKEN_MISMATCH,
    /** The ACK's request_id or correlation_id is not the connection id. */
    CORRELATION_MISMATCH,
    /** What came back was not a valid HandoffAck frame. */
    MALFORMED,
    /** No ACK before the grace period ended, or the backend closed the connection: the backend is broken. */
    MISSING;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
