package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;

/**
 * A Hello whose fields break the published shape rules (protocol range, names,
 * versions, string caps, pid). The protocol-range violation is the one that maps
 * to {@code ERROR_VERSION_UNSUPPORTED}; every other one to {@code ERROR_PEER_REJECTED}.
 */
public final class HelloShapeException extends WireException {

    HelloShapeException(ErrorCode code, String reason) {
        super(code, reason);
    }

    static HelloShapeException rejected(String reason) {
        return new HelloShapeException(ErrorCode.ERROR_PEER_REJECTED, reason);
    }

    static HelloShapeException unsupportedProtocol(int min, int max) {
        return new HelloShapeException(ErrorCode.ERROR_VERSION_UNSUPPORTED,
                "client protocol range " + min + ".." + max + " excludes 1");
    }
}
