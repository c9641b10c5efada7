package io.handoffbroker.bench;

import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The backend of the route floor ({@code route-floor-backend BACKEND_PIPE HANDOFF_ENDPOINT}):
 * the backend SDK's steps for both routes, in the same order and on the same kinds of
 * threads, without its frames, checks or bookkeeping.
 *
 * <ul>
 *   <li>{@code BACKEND_PIPE}: an accept thread hands each connection to a pooled
 *       handler thread, which echoes one request and closes.</li>
 *   <li>{@code HANDOFF_ENDPOINT}: one thread per control connection reads the token
 *       with its descriptor and the offer, duplicates the descriptor, writes the ACK,
 *       and only then gives the duplicate to a pooled handler thread, which makes it
 *       blocking and echoes one request through file streams on it, as the SDK does for
 *       a {@code StreamHandler}.</li>
 * </ul>
 */
final class RouteFloorBackend {

    // Reused threads, as the SDK's: a platform thread started per connection costs more than the echo.
    private final ExecutorService handlers = Executors.newCachedThreadPool(
            Thread.ofPlatform().name("floor-handler-", 0).daemon(true).factory());

    private RouteFloorBackend() {
    }

    static void run(Path backendPipe, Path handoffEndpoint) throws IOException, InterruptedException {
        RouteFloorBackend backend = new RouteFloorBackend();
        AFUNIXServerSocket pipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
        AFUNIXServerSocket handoffs = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoffEndpoint));
        Thread.ofPlatform().name("floor-pipe-accept").daemon(true).start(() -> acceptLoop(pipe,
                connection -> backend.handlers.execute(() -> echo(connection))));
        Thread.ofPlatform().name("floor-handoff-accept").daemon(true).start(() -> acceptLoop(handoffs,
                control -> Thread.ofPlatform().name("floor-control").daemon(true)
                        .start(() -> backend.serveControl(control))));
        System.out.println("route floor backend ready, pid " + ProcessHandle.current().pid());
        Thread.currentThread().join(); // until the parent link ends the process
    }

    private static void acceptLoop(AFUNIXServerSocket server, Consumer<AFUNIXSocket> onAccept) {
        while (true) {
            try {
                onAccept.accept(server.accept());
            } catch (IOException e) {
                // Fails the thread loudly: the log says why the samples then stall.
                throw new UncheckedIOException(e);
            }
        }
    }

    /** One offer/ACK exchange after another on a control connection, as long as the broker keeps it. */
    private void serveControl(AFUNIXSocket control) {
        try (control) {
            control.setAncillaryReceiveBufferSize(1024);
            InputStream in = control.getInputStream();
            OutputStream out = control.getOutputStream();
            byte[] token = new byte[RouteFloor.TOKEN_BYTES];
            byte[] offer = new byte[RouteFloor.OFFER_BYTES];
            byte[] ack = new byte[RouteFloor.ACK_BYTES];
            FileDescriptor received;
            while ((received = readToken(control, in, token)) != null) {
                FileDescriptorCast adopted;
                try {
                    RouteFloor.readFully(in, offer, "the offer");
                    // junixsocket closes what a socket received when that socket closes; the duplicate is ours.
                    adopted = FileDescriptorCast.duplicating(received);
                } finally {
                    Descriptors.closeReceived(received);
                }
                out.write(ack);
                handlers.execute(() -> serveAdopted(adopted));
            }
        } catch (IOException e) {
            System.out.println("control connection ended: " + e);
        }
    }

    /**
     * Reads the token and the descriptor that came with it.
     *
     * @return null when the broker closed the connection between exchanges (the
     *     orchestrator's readiness probe does so at once)
     */
    private static @Nullable FileDescriptor readToken(AFUNIXSocket control, InputStream in, byte[] token)
            throws IOException {
        FileDescriptor received = null;
        int done = 0;
        while (done < token.length) {
            int n = in.read(token, done, token.length - done);
            // The descriptor belongs to the read that took its first byte; ask after every read.
            FileDescriptor[] fds = control.getReceivedFileDescriptors();
            if (fds != null && fds.length > 0) {
                received = fds[0];
            }
            if (n < 0) {
                if (received != null) {
                    Descriptors.closeReceived(received);
                }
                if (done == 0) {
                    return null;
                }
                throw new EOFException("closed after " + done + " token bytes");
            }
            done += n;
        }
        if (received == null) {
            throw new IOException("no descriptor came with the token");
        }
        return received;
    }

    /**
     * On a handler thread, as the SDK serves a {@code StreamHandler}: the descriptor made
     * blocking, file streams on it, no socket object.
     */
    private static void serveAdopted(FileDescriptorCast adopted) {
        FileDescriptor descriptor = adopted.getFileDescriptor();
        try (FileInputStream in = new FileInputStream(descriptor)) {
            Posix.makeBlocking(adopted.as(Integer.class));
            byte[] request = new byte[RouteFloor.REQUEST_BYTES];
            if (in.readNBytes(request, 0, request.length) == request.length) {
                new FileOutputStream(descriptor).write(request);
            }
        } catch (IOException e) {
            System.out.println("echo on a handed-off connection failed: " + e);
        }
    }

    private static void echo(AFUNIXSocket connection) {
        try {
            InputStream in = connection.getInputStream();
            byte[] request = new byte[RouteFloor.REQUEST_BYTES];
            // Fewer bytes: the orchestrator's readiness probe, which connects and closes.
            if (in.readNBytes(request, 0, request.length) == request.length) {
                connection.getOutputStream().write(request);
            }
        } catch (IOException e) {
            System.out.println("echo failed: " + e);
        } finally {
            release(connection);
        }
    }

    // A socket made from a descriptor leaves that descriptor open on close(), so it is released
    // explicitly; an accepted socket goes the same way, as in the SDK: this is the last copy of
    // the connection, and the shutdown that close() adds would only cost a system call.
    private static void release(AFUNIXSocket connection) {
        try {
            Descriptors.closeWithoutShutdown(connection);
        } catch (IOException e) {
            System.out.println("closing a connection failed: " + e);
        }
    }
}
