package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;
import java.io.IOException;

/**
 * A protocol violation found while reading or validating a frame. Each subclass
 * names the refusal code and the short human reason the broker answers with
 * when the violation is in a client's Hello, so the mapping from failure to
 * refusal lives in one place.
 *
 * <p>It extends {@link IOException} because every violation is found while doing
 * I/O and leaves the stream unusable: the connection must be closed after it.
 */
public abstract sealed class WireException extends IOException
        permits UnsupportedFramingException, FrameTooLongException, IncompleteFrameException,
                MalformedFrameException, EnvelopeException, HelloShapeException {

    private final ErrorCode code;

    WireException(ErrorCode code, String reason) {
        super(reason);
        this.code = code;
    }

    WireException(ErrorCode code, String reason, Throwable cause) {
        super(reason, cause);
        this.code = code;
    }

    /** The refusal code a broker answers with when this is found in a Hello. */
    public ErrorCode errorCode() {
        return code;
    }

    /** The short human reason sent in {@code Refused.reason}. */
    public String reason() {
        return getMessage();
    }
}
