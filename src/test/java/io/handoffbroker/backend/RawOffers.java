package io.handoffbroker.backend;

import com.google.protobuf.ByteString;
import io.handoffbroker.unix.Descriptors;
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
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * The broker's side of an offer, by hand, on a control connection to a backend's handoff endpoint;
 * the backend offered to, and the client connections handed over.
 */
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

    /** A backend server with a handoff endpoint, and a control connection to it. */
    record Backend(BackendServer server, AFUNIXSocket control) implements AutoCloseable {

        static Backend start(Path dir, StreamHandler handler) throws Exception {
            return start(dir, handler, null);
        }

        /** @param brokerUids whom the handoff endpoint takes control connections from; null: the default */
        static Backend start(Path dir, StreamHandler handler, @Nullable Set<Long> brokerUids) throws Exception {
            Path handoff = dir.resolve("handoff.sock");
            BackendServer configured = new BackendServer(dir.resolve("pipe.sock"), Optional.of(handoff), handler, 4);
            BackendServer server = (brokerUids == null ? configured : configured.acceptHandoffsFrom(brokerUids))
                    .start();
            try {
                return new Backend(server, RawOffers.connect(handoff));
            } catch (Exception e) {
                server.close();
                throw e;
            }
        }

        @Override
        public void close() throws Exception {
            control.close();
            server.close();
        }
    }

    /**
     * A connection to hand off: the test keeps {@code ours}, as the client would, and passes the
     * other end, whose copy here is closed right after, as the broker does with its own.
     */
    record Pair(AFUNIXSocket ours, AFUNIXSocketChannel theirs) implements AutoCloseable {

        /**
         * A socketpair. junixsocket's leaves two more descriptors open for good, so a test that
         * counts descriptors opens its pairs before its baseline, or uses {@link #acceptedOn}.
         */
        static Pair open() throws Exception {
            AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
            return of(pair.getSocket1(), pair.getSocket2());
        }

        /** A connection accepted on {@code listener}, as a broker's client connection is. */
        static Pair acceptedOn(AFUNIXServerSocketChannel listener) throws Exception {
            AFUNIXSocketChannel client = AFUNIXSocketChannel.open(listener.getLocalAddress());
            try {
                return of(client, listener.accept());
            } catch (Exception e) {
                client.close();
                throw e;
            }
        }

        private static Pair of(AFUNIXSocketChannel client, AFUNIXSocketChannel passed) throws Exception {
            AFUNIXSocket ours = (AFUNIXSocket) client.socket();
            ours.setSoTimeout(5_000);
            return new Pair(ours, passed);
        }

        FileDescriptor passed() throws Exception {
            return theirs.getFileDescriptor();
        }

        /** True when reading here finds the end: no other copy of the passed end is left open. */
        boolean clientSeesTheEnd() throws Exception {
            Descriptors.closeWithoutShutdown(theirs); // a shutdown would end it whoever else holds it
            return ours.getInputStream().read() == -1;
        }

        @Override
        public void close() throws Exception {
            ours.close();
            theirs.close();
        }
    }
}
