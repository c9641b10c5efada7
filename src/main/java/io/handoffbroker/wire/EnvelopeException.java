package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/** A well-formed frame whose envelope fields are not the ones this exchange requires. */
public final class EnvelopeException extends WireException {

    public EnvelopeException(String reason) {
        super(ErrorCode.ERROR_PEER_REJECTED, reason);
    }
}
