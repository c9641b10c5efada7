package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/** A complete frame body, or the payload inside it, is not valid protobuf for its message. */
public final class MalformedFrameException extends WireException {

    public MalformedFrameException(String reason, Throwable cause) {
        super(ErrorCode.ERROR_PEER_REJECTED, reason, cause);
    }

    static MalformedFrameException frame(Throwable cause) {
        return new MalformedFrameException("malformed broker Frame", cause);
    }

    static MalformedFrameException payload(String messageName, Throwable cause) {
        return new MalformedFrameException("malformed " + messageName + " payload", cause);
    }
}
