package io.handoffbroker.bench;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * What the route floor's processes ({@link RouteFloorBroker}, {@link RouteFloorBackend},
 * {@link RouteFloorClient}) exchange: byte strings as long as the real frames of each
 * step on the wire, with nothing in them to encode, decode or check. Only the first
 * byte of a Hello means something: the route the client asks for.
 */
final class RouteFloor {

    static final int HELLO_BYTES = 77;
    static final int NEGOTIATED_HANDOFF_BYTES = 129;
    static final int NEGOTIATED_RECONNECT_BYTES = 109;
    static final int TOKEN_BYTES = 16;
    static final int OFFER_BYTES = 46;
    static final int ACK_BYTES = 43;
    static final int RELAY_BYTES = 43;
    static final int REQUEST_BYTES = RouteClient.REQUEST.length;

    /** The first byte of a Hello that asks for a handoff; any other value asks for a reconnect. */
    static final byte HANDOFF = 1;
    static final byte RECONNECT = 0;

    private RouteFloor() {
    }

    /** A Hello of the real length asking for {@code route}. */
    static byte[] hello(byte route) {
        byte[] hello = new byte[HELLO_BYTES];
        hello[0] = route;
        return hello;
    }

    /** Fills {@code bytes} from {@code in}; the peer closing first is an error. */
    static void readFully(InputStream in, byte[] bytes, String what) throws IOException {
        int read = in.readNBytes(bytes, 0, bytes.length);
        if (read < bytes.length) {
            throw new EOFException("closed after " + read + " of " + bytes.length + " bytes of " + what);
        }
    }
}
