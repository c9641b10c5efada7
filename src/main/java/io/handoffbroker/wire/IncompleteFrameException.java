package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/** The stream ended, or failed, after part of a frame had arrived. */
public final class IncompleteFrameException extends WireException {

    /** The refusal table's reason for a connection whose first frame (its Hello) stopped part way. */
    public static final String INCOMPLETE_HELLO = "incomplete Hello frame";

    private final int received;
    private final long expected;

    /**
     * @param hello whether the frame was a connection's first (its Hello): the refusal
     *     table's reason is then "incomplete Hello frame", otherwise "incomplete frame"
     */
    public IncompleteFrameException(boolean hello, int received, long expected) {
        super(ErrorCode.ERROR_PEER_REJECTED, reason(hello));
        this.received = received;
        this.expected = expected;
    }

    public IncompleteFrameException(boolean hello, int received, long expected, Throwable cause) {
        super(ErrorCode.ERROR_PEER_REJECTED, reason(hello), cause);
        this.received = received;
        this.expected = expected;
    }

    private static String reason(boolean hello) {
        return hello ? INCOMPLETE_HELLO : "incomplete frame";
    }

    /** Bytes of the frame (header included) that did arrive. */
    public int received() {
        return received;
    }

    /** Bytes the frame should have had (header included), or -1 when the header itself was cut. */
    public long expected() {
        return expected;
    }
}
