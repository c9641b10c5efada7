package io.handoffbroker.wire;

import com.google.protobuf.ByteString;
import io.handoffbroker.wire.proto.Hello;
import java.util.regex.Pattern;

/**
 * The published shape rules of a {@code Hello}, checked in one fixed order so
 * that the same Hello always gets the same answer: protocol range first (the
 * only rule answered with {@code ERROR_VERSION_UNSUPPORTED}), then service name,
 * wanted version, string caps and the claimed pid. Upper case in a service name
 * is rejected, never folded: two spellings must not reach one service.
 */
public final class HelloRules {

    private static final Pattern SERVICE_NAME = Pattern.compile("[a-z0-9-]{1,64}");
    static final int MAX_WANTED_VERSION_BYTES = 64;
    static final int MAX_CLIENT_VERSION_BYTES = 128;
    static final int MAX_CLIENT_LIB_BYTES = 64;

    private HelloRules() {
    }

    /**
     * @param kernelPid the peer pid the kernel reported for the connection, or a
     *     value {@code <= 0} when unknown (then the claimed pid is not checked)
     */
    public static void validate(Hello hello, long kernelPid) throws HelloShapeException {
        int min = hello.getClientMinProtocol();
        int max = hello.getClientMaxProtocol();
        if (Integer.compareUnsigned(min, WireProtocol.PROTOCOL_VERSION) > 0
                || Integer.compareUnsigned(max, WireProtocol.PROTOCOL_VERSION) < 0) {
            throw HelloShapeException.unsupportedProtocol(min, max);
        }
        if (!isValidServiceName(hello.getServiceName())) {
            throw HelloShapeException.rejected("invalid service_name");
        }
        if (hello.getWantedVersionBytes().size() > MAX_WANTED_VERSION_BYTES
                || !SemVer.isValid(hello.getWantedVersion())) {
            throw HelloShapeException.rejected("invalid wanted_version");
        }
        requireAtMost(hello.getClientVersionBytes(), MAX_CLIENT_VERSION_BYTES, "client_version");
        requireAtMost(hello.getClientLibNameBytes(), MAX_CLIENT_LIB_BYTES, "client_lib_name");
        requireAtMost(hello.getClientLibVersionBytes(), MAX_CLIENT_LIB_BYTES, "client_lib_version");
        long claimedPid = Integer.toUnsignedLong(hello.getPeerPid());
        if (claimedPid != 0 && kernelPid > 0 && claimedPid != kernelPid) {
            throw HelloShapeException.rejected("peer_pid does not match the connecting process");
        }
    }

    /** {@code [a-z0-9-]{1,64}}. */
    public static boolean isValidServiceName(String name) {
        return SERVICE_NAME.matcher(name).matches();
    }

    private static void requireAtMost(ByteString value, int maxBytes, String field) throws HelloShapeException {
        if (value.size() > maxBytes) {
            throw HelloShapeException.rejected(field + " exceeds " + maxBytes + " bytes");
        }
    }
}
