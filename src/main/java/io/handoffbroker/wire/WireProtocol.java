package io.handoffbroker.wire;

/**
 * The constants of protocol v1 as published. Changing any of them breaks every
 * existing client and backend.
 */
public final class WireProtocol {

    /** The first byte of every frame. */
    public static final int FRAMING_VERSION = 1;

    /** {@code [u8 framing_version][u32 little-endian body_length]}. */
    public static final int HEADER_LENGTH = 5;

    /** The largest body of any frame: 16 MiB. */
    public static final int MAX_FRAME_BODY = 16 * 1024 * 1024;

    /** The largest body of the first frame on a client connection (the Hello): 64 KiB. */
    public static final int MAX_HELLO_BODY = 64 * 1024;

    /**
     * Not published, this implementation's bound and a deviation from the protocol's 16 MiB: the
     * largest body of an offer, an ACK or a relay it reads, 32 KiB. Each carries a token, two
     * ids, a service name or a detail, and perhaps trace context (a W3C tracestate is at most
     * 32 entries, about 16 KiB); this broker and its SDKs send well under a kilobyte. At 16 MiB,
     * every peer's control connection could make the reader set that much aside, and a handful
     * of them exhaust a small heap.
     */
    public static final int MAX_HANDOFF_BODY = 32 * 1024;

    /** {@code Frame.envelope_version}. */
    public static final int ENVELOPE_VERSION = 1;

    /** The only protocol version this broker negotiates. */
    public static final int PROTOCOL_VERSION = 1;

    /** {@code Frame.payload_protocol} of Hello and HelloReply. */
    public static final int PAYLOAD_CONTROL = 0x00;

    /** {@code Frame.payload_protocol} of admin verbs. */
    public static final int PAYLOAD_ADMIN = 0xAD01;

    /** {@code Frame.payload_protocol} of endpoint probes. */
    public static final int PAYLOAD_PROBE = 0xB232;

    /** {@code Frame.payload_protocol} of HandoffOffer, HandoffAck and the handoff-ready relay. */
    public static final int PAYLOAD_HANDOFF = 0xD0FF;

    /** {@code Hello.client_capabilities} and {@code Negotiated.server_capabilities} bit 0. */
    public static final long CAP_HANDLE_PASSING = 1L;

    private WireProtocol() {
    }
}
