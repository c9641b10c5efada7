package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/** The stream ended, or failed, after part of a frame had arrived. */
public final class IncompleteFrameException extends WireException {

    private final int received;
    private final long expected;

    public IncompleteFrameException(int received, long expected) {
        super(ErrorCode.ERROR_PEER_REJECTED, "incomplete Hello frame");
        this.received = received;
        this.expected = expected;
    }

    public IncompleteFrameException(int received, long expected, Throwable cause) {
        super(ErrorCode.ERROR_PEER_REJECTED, "incomplete Hello frame", cause);
        this.received = received;
        this.expected = expected;
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
