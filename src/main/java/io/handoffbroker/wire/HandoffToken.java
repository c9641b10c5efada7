package io.handoffbroker.wire;

import com.google.protobuf.ByteString;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The 16-byte one-time secret that pairs a passed descriptor with its offer and
 * its ACK. It is compared in constant time and never rendered: {@link #toString()}
 * is redacted so that no log line, exception message or debugger view carries it.
 */
public final class HandoffToken {

    /** Token length on the wire. */
    public static final int LENGTH = 16;

    private final byte[] bytes;

    private HandoffToken(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A fresh 128-bit token from the given CSPRNG. */
    public static HandoffToken generate(SecureRandom random) {
        byte[] b = new byte[LENGTH];
        random.nextBytes(b);
        return new HandoffToken(b);
    }

    /** Wraps received bytes; throws {@link IllegalArgumentException} unless exactly 16 bytes. */
    public static HandoffToken of(byte[] received) {
        if (received.length != LENGTH) {
            throw new IllegalArgumentException("a handoff token has " + LENGTH + " bytes, got " + received.length);
        }
        return new HandoffToken(received.clone());
    }

    /** Wraps received bytes; throws {@link IllegalArgumentException} unless exactly 16 bytes. */
    public static HandoffToken of(ByteString received) {
        return of(received.toByteArray());
    }

    /** Constant-time comparison with bytes a peer sent; false for any other length. */
    public boolean matches(ByteString candidate) {
        return matches(candidate.toByteArray());
    }

    /** Constant-time comparison with bytes a peer sent; false for any other length. */
    public boolean matches(byte[] candidate) {
        return MessageDigest.isEqual(bytes, candidate);
    }

    public ByteString toByteString() {
        return ByteString.copyFrom(bytes);
    }

    public byte[] toByteArray() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof HandoffToken token && MessageDigest.isEqual(bytes, token.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "HandoffToken[redacted]";
    }
}
