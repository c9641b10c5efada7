package io.handoffbroker.wire;

/**
 * What a frame reader reads, and so the longest body it accepts. What it reads, not only how
 * much, decides how a frame that is too long or cut off is reported: a client's first frame is
 * answered as an oversized or incomplete Hello before the connection closes.
 */
public enum FrameLimit {

    /** The first frame of a client connection, the Hello: {@link WireProtocol#MAX_HELLO_BODY}. */
    HELLO(WireProtocol.MAX_HELLO_BODY),

    /** An offer, an ACK or a relay: {@link WireProtocol#MAX_HANDOFF_BODY}. */
    HANDOFF(WireProtocol.MAX_HANDOFF_BODY),

    /** Any other frame: {@link WireProtocol#MAX_FRAME_BODY}. */
    ANY(WireProtocol.MAX_FRAME_BODY);

    private final int maxBody;

    FrameLimit(int maxBody) {
        this.maxBody = maxBody;
    }

    /** The longest body accepted, in bytes. */
    public int maxBody() {
        return maxBody;
    }

    /** True for a client's first frame. */
    public boolean isInitialHello() {
        return this == HELLO;
    }
}
