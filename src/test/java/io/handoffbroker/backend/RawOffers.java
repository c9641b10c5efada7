package io.handoffbroker.backend;

import com.google.protobuf.ByteString;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The broker's side of an offer, by hand, on a control connection to a backend's handoff endpoint. */
final class RawOffers {

    private RawOffers() {
    }

    /** A connection to {@code endpoint} (a handoff endpoint, or a backend pipe), its reads bounded by 5 s. */
    static AFUNIXSocket connect(Path endpoint) throws IOException {
        AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(endpoint));
        try {
            socket.setSoTimeout(5_000);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    /** A well-formed offer frame for {@code token}, its request_id the correlation id. */
    static Frame offerFrame(byte[] token, long correlationId) {
        return Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_HANDOFF, correlationId,
                HandoffOffer.newBuilder().setToken(ByteString.copyFrom(token)).setServiceName("echo")
                        .setCorrelationId(correlationId).build());
    }

    /** Sends the token with {@code passed}, then {@code offer}; returns the backend's answer frame. */
    static Frame offer(AFUNIXSocket control, FileDescriptor passed, byte[] token, Frame offer) throws IOException {
        OutputStream out = control.getOutputStream();
        control.setOutboundFileDescriptors(passed);
        out.write(token);
        FrameIO.write(out, offer);
        return FrameIO.read(control.getInputStream(), FrameLimit.ANY);
    }

    /** A well-formed offer of {@code passed} for {@code token}; returns the backend's ACK. */
    static HandoffAck ack(AFUNIXSocket control, FileDescriptor passed, byte[] token, long correlationId)
            throws IOException {
        return HandoffAck.parseFrom(offer(control, passed, token, offerFrame(token, correlationId)).getPayload());
    }

    static byte[] token(int seed) {
        byte[] token = new byte[16];
        token[0] = (byte) seed;
        return token;
    }
}
