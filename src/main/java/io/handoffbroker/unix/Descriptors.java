package io.handoffbroker.unix;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFSocketChannel;

/**
 * Closing our copy of a socket whose other copy lives on in another process.
 *
 * <p>junixsocket's {@code close()} always calls {@code shutdown(SHUT_RDWR)} before
 * closing. {@code shutdown} acts on the socket, not on the descriptor: after a
 * connection was passed with SCM_RIGHTS it would cut the receiver's copy off too.
 * Closing the descriptor through a {@link FileInputStream} first releases the
 * descriptor number and invalidates the shared {@link FileDescriptor}, so the
 * channel's own close afterwards finds nothing to shut down. A test pins this:
 * the backend keeps using the connection after the broker closed its copy.
 */
public final class Descriptors {

    private Descriptors() {
    }

    /** Releases our descriptor of a passed connection without shutting the socket down. */
    public static void closeWithoutShutdown(AFSocketChannel<?> channel) throws IOException {
        if (channel.isOpen()) {
            releaseDescriptor(channel.getFileDescriptor());
        }
        channel.close();
    }

    /** Releases our descriptor of a passed connection without shutting the socket down. */
    public static void closeWithoutShutdown(AFSocket<?> socket) throws IOException {
        if (!socket.isClosed()) {
            releaseDescriptor(socket.getFileDescriptor());
        }
        socket.close();
    }

    /** Closes a descriptor that was received and never adopted. */
    public static void closeReceived(FileDescriptor descriptor) throws IOException {
        releaseDescriptor(descriptor);
    }

    /** {@link #closeReceived}, where a failure leaves nothing to do (it was closed already). */
    public static void closeReceivedQuietly(FileDescriptor descriptor) {
        try {
            closeReceived(descriptor);
        } catch (IOException closedAlready) {
            // Nothing is held any more.
        }
    }

    /** Closes a channel, socket or listener that is being discarded; never throws. */
    public static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception ignored) {
            // Nothing left to do with something that failed to close; its descriptor is gone either way.
        }
    }

    private static void releaseDescriptor(FileDescriptor descriptor) throws IOException {
        if (descriptor.valid()) {
            try (FileInputStream releaser = new FileInputStream(descriptor)) {
                // The stream shares the FileDescriptor; closing it closes the number and marks it invalid.
            }
        }
    }
}
