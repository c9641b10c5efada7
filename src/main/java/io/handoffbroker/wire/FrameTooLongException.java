package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/**
 * A frame header announced a body longer than the limit in force. Thrown from the
 * header alone: no byte of the body has been read or allocated.
 */
public final class FrameTooLongException extends WireException {

    private final long announcedLength;
    private final FrameLimit limit;

    public FrameTooLongException(long announcedLength, FrameLimit limit) {
        super(ErrorCode.ERROR_PEER_REJECTED, reasonFor(limit));
        this.announcedLength = announcedLength;
        this.limit = limit;
    }

    private static String reasonFor(FrameLimit limit) {
        if (limit.isInitialHello()) {
            return "initial Hello frame exceeds 64 KiB";
        }
        return "frame body exceeds " + limit.maxBody() + " bytes";
    }

    /** The body length the header claimed. */
    public long announcedLength() {
        return announcedLength;
    }

    /** The limit it exceeded, in bytes. */
    public int limit() {
        return limit.maxBody();
    }

    /** True when this was a client's first frame, which the broker answers before closing. */
    public boolean isInitialHello() {
        return limit.isInitialHello();
    }
}
