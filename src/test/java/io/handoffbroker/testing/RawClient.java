package io.handoffbroker.testing;

import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** A test client that sends whatever bytes a test wants and reads what the broker answers. */
public final class RawClient implements AutoCloseable {

    private final AFUNIXSocket socket;

    private RawClient(AFUNIXSocket socket) {
        this.socket = socket;
    }

    public static RawClient connect(Path socketPath, Duration readTimeout) throws IOException {
        // Not AFUNIXSocket.connectTo: a connect it fails leaves its socket to the garbage
        // collector, whose later close frees a descriptor under whichever test runs then.
        AFUNIXSocket socket = AFUNIXSocket.newInstance();
        try {
            socket.connect(AFUNIXSocketAddress.of(socketPath));
            socket.setSoTimeout((int) readTimeout.toMillis());
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        return new RawClient(socket);
    }

    public static RawClient connect(Path socketPath) throws IOException {
        return connect(socketPath, Duration.ofSeconds(5));
    }

    /** A well-formed Hello for the service and version, protocol 1..1. */
    public static Hello hello(String service, String version) {
        return Hello.newBuilder().setClientMinProtocol(1).setClientMaxProtocol(1).setServiceName(service)
                .setWantedVersion(version).build();
    }

    /** A frame header alone, announcing a body of {@code announced} bytes. */
    public static byte[] header(long announced) {
        return ByteBuffer.allocate(WireProtocol.HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) WireProtocol.FRAMING_VERSION).putInt((int) announced).array();
    }

    public static Frame helloFrame(Hello hello, long requestId) {
        return Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL, requestId, hello);
    }

    public RawClient send(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return this;
    }

    public RawClient send(Frame frame) throws IOException {
        return send(FrameIO.encode(frame));
    }

    public Frame readFrame() throws IOException {
        return FrameIO.read(socket.getInputStream(), FrameLimit.ANY);
    }

    public HelloReply readReply() throws IOException {
        return HelloReply.parseFrom(readFrame().getPayload());
    }

    /** Exchanges one Hello and returns the reply. */
    public HelloReply hello(Hello hello) throws IOException {
        send(helloFrame(hello, 7));
        return readReply();
    }

    /** True when the broker closed the connection: the next read sees end of stream. */
    public boolean isClosedByPeer() throws IOException {
        try {
            return socket.getInputStream().read() < 0;
        } catch (EOFException e) {
            return true;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }

    public AFUNIXSocket socket() {
        return socket;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
