package io.handoffbroker.client;

import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Refused;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * The broker answered the Hello with {@code Refused}.
 *
 * <p>Serializable as any exception: the {@code Refused} travels as its protobuf encoding,
 * so a deserialized exception answers every accessor as the original did.
 */
public final class BrokerRefusedException extends IOException {

    @Serial
    private static final long serialVersionUID = 1L;

    // A protobuf message is not written by Java serialization here: its encoding is, by
    // writeObject, and readObject parses it back.
    private transient Refused refused;

    /** @throws NullPointerException when {@code refused} is null */
    public BrokerRefusedException(Refused refused) {
        super(Objects.requireNonNull(refused, "refused is null").getCode().name() + ": " + reasonOf(refused)
                + (refused.getRetryAfterMs() > 0 ? " (retry after " + refused.getRetryAfterMs() + " ms)" : ""));
        this.refused = refused;
    }

    public ErrorCode code() {
        return refused.getCode();
    }

    /** The broker's reason, bounded and without control characters: it is meant to be shown. */
    public String reason() {
        return reasonOf(refused);
    }

    private static String reasonOf(Refused refused) {
        return PeerText.printable(refused.getReason(), PeerText.REASON_MAX_CHARS);
    }

    /** When the broker suggests trying again; zero when retrying will not help. */
    public Duration retryAfter() {
        return Duration.ofMillis(refused.getRetryAfterMs());
    }

    public Map<String, String> details() {
        return refused.getDetailsMap();
    }

    public Refused refused() {
        return refused;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        out.writeObject(refused.toByteArray());
    }

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        if (!(in.readObject() instanceof byte[] encoded)) {
            throw new InvalidObjectException("no encoded Refused");
        }
        try {
            refused = Refused.parseFrom(encoded);
        } catch (InvalidProtocolBufferException e) {
            InvalidObjectException invalid = new InvalidObjectException("the encoded Refused does not parse: "
                    + e.getMessage());
            invalid.initCause(e);
            throw invalid;
        }
    }
}
