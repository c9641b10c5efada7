package io.handoffbroker.handoff;

import org.jspecify.annotations.Nullable;

/**
 * How one delivery over one control connection ended.
 *
 * @param status what happened, see {@link Status}
 * @param descriptorReached whether the client descriptor went out to the backend;
 *     when it did, only a timely acceptance or a correct refusal is unambiguous
 * @param detail a human reason for logs and the client relay
 * @param ackDetail the error_detail of an explicit refusal, else null
 */
public record DeliveryOutcome(Status status, boolean descriptorReached, String detail, @Nullable String ackDetail) {

    /** Delivery statuses; the comment says who owns the client connection afterwards. */
    public enum Status {
        /** Backend accepted in time: the backend owns it; the broker relays and releases its copy. */
        ACCEPTED,
        /** Explicit, correlated refusal: the broker owns it. */
        REFUSED,
        /** The descriptor could not be sent (nothing went out): the broker owns it. */
        TRANSFER_FAILED,
        /** Sent, then the offer could not be written: ambiguous. */
        OFFER_FAILED,
        /** Sent, no ACK by the deadline: ambiguous; the ACK may still come (late) or not (missing). */
        DEADLINE_PASSED,
        /** Sent, the backend closed the control connection without an ACK: ambiguous. */
        CLOSED,
        /** Sent, what came back was not a valid ACK frame: ambiguous. */
        MALFORMED,
        /** Sent, the ACK carries another correlation id or request_id: ambiguous. */
        CORRELATION_MISMATCH,
        /** Sent, the ACK echoes another token: ambiguous. */
        TOKEN_MISMATCH,
        /** Sent, the ACK arrived but after the deadline: ambiguous, never honoured. */
        LATE;

        /** True when the broker still owns the client connection after this status. */
        public boolean brokerOwnsClient() {
            return this == REFUSED || this == TRANSFER_FAILED;
        }

        /** True when the control connection's stream is known to be clean for another exchange. */
        public boolean controlReusable() {
            return this == ACCEPTED || this == REFUSED;
        }

        /** The ACK result, when this status ends the ACK stage now (DEADLINE_PASSED decides later). */
        public @Nullable AckResult ackResult() {
            return switch (this) {
                case ACCEPTED -> AckResult.ACCEPTED;
                case REFUSED -> AckResult.REFUSED;
                case LATE -> AckResult.LATE;
                case TOKEN_MISMATCH -> AckResult.TOKEN_MISMATCH;
                case CORRELATION_MISMATCH -> AckResult.CORRELATION_MISMATCH;
                case MALFORMED -> AckResult.MALFORMED;
                case CLOSED -> AckResult.MISSING;
                case TRANSFER_FAILED, OFFER_FAILED, DEADLINE_PASSED -> null;
            };
        }
    }
}
