package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/** The first byte of a frame was not {@link WireProtocol#FRAMING_VERSION}. */
public final class UnsupportedFramingException extends WireException {

    private final int framingByte;

    public UnsupportedFramingException(int framingByte) {
        super(ErrorCode.ERROR_VERSION_UNSUPPORTED, "unsupported framing version");
        this.framingByte = framingByte;
    }

    /** The byte the peer sent where the framing version belongs. */
    public int framingByte() {
        return framingByte;
    }
}
