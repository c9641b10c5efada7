package io.handoffbroker.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A client on the JDK's own Unix-domain {@link SocketChannel}, for what the
 * junixsocket {@code Socket} used by {@code RawClient} cannot do here: a real
 * half-close ({@code AFUNIXSocket.shutdownOutput()} fails with "Socket is not
 * connected" in junixsocket 2.10.1), and reading on after a write failed (junixsocket
 * closes its socket on a broken pipe). Every wait is bounded. JDK only, so the
 * child JVM of {@link PeerPolicyTest} can use it too.
 */
final class UnixChannelClient implements AutoCloseable {

    /** What arrived until the broker closed the connection, or until the wait ended. */
    record Received(byte[] bytes, boolean closed, boolean reset) {
    }

    private final SocketChannel channel;
    private final Selector selector;

    private UnixChannelClient(SocketChannel channel, Selector selector) {
        this.channel = channel;
        this.selector = selector;
    }

    static UnixChannelClient connect(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.configureBlocking(false);
            Selector selector = Selector.open();
            channel.register(selector, SelectionKey.OP_READ);
            return new UnixChannelClient(channel, selector);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Writes all bytes within {@code timeout}.
     *
     * @return false when the broker had already closed (broken pipe or reset)
     */
    boolean send(byte[] bytes, Duration timeout) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (buffer.hasRemaining()) {
                if (channel.write(buffer) == 0) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new IOException("could not write " + bytes.length + " bytes within " + timeout);
                    }
                    Thread.sleep(1);
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("could not write")) {
                throw e;
            }
            return false;
        }
    }

    /** Half-close: the broker reads end of stream, the client can still read. */
    void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    /** True when nothing (no byte, no close) arrives for {@code quiet}. */
    boolean staysSilentFor(Duration quiet) throws IOException {
        int ready = selector.select(Math.max(1, quiet.toMillis()));
        selector.selectedKeys().clear();
        return ready == 0;
    }

    /** Reads until the broker closes the connection or {@code timeout} passes, whichever is first. */
    Received readUntilClosed(Duration timeout) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return new Received(out.toByteArray(), false, false);
            }
            selector.select(Math.max(1, left / 1_000_000));
            selector.selectedKeys().clear();
            int n;
            try {
                n = channel.read(buffer.clear());
            } catch (IOException reset) {
                return new Received(out.toByteArray(), true, true);
            }
            if (n < 0) {
                return new Received(out.toByteArray(), true, false);
            }
            out.write(buffer.array(), 0, n);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            selector.close();
        } finally {
            channel.close();
        }
    }
}
