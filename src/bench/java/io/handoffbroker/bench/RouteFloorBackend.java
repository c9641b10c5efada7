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
 *       with its descriptor through {@code recvmsg(2)} (as a number of its own, as the SDK
 *       receives it) and the offer, writes the ACK, and only then gives the number to a
 *       pooled handler thread, which casts it to a descriptor, makes it blocking and
 *       echoes one request through file streams on it, as the SDK does for a
 *       {@code StreamHandler}.</li>
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
        // As the SDK's token reader: recvmsg(2) on a number of our own for the control socket, so a
        // received descriptor is a plain number nothing else closes, and needs no copy.
        int number;
        try {
            number = Posix.duplicate(Posix.number(control.getFileDescriptor()), 3);
        } catch (IOException e) {
            System.out.println("control connection unusable: " + e);
            Descriptors.closeQuietly(control);
            return;
        }
        try (control) {
            InputStream in = control.getInputStream();
            OutputStream out = control.getOutputStream();
            byte[] token = new byte[RouteFloor.TOKEN_BYTES];
            byte[] offer = new byte[RouteFloor.OFFER_BYTES];
            byte[] ack = new byte[RouteFloor.ACK_BYTES];
            int received;
            while ((received = readToken(number, token)) >= 0) {
                try {
                    RouteFloor.readFully(in, offer, "the offer");
                    out.write(ack);
                } catch (IOException e) {
                    Posix.closeQuietly(received);
                    throw e;
                }
                int adopted = received;
                handlers.execute(() -> serveAdopted(adopted));
            }
        } catch (IOException e) {
            System.out.println("control connection ended: " + e);
        } finally {
            Posix.closeQuietly(number);
        }
    }

    /**
     * Reads the token and the descriptor that came with it.
     *
     * @return the descriptor's number, or -1 when the broker closed the connection between
     *     exchanges (the orchestrator's readiness probe does so at once)
     */
    private static int readToken(int control, byte[] token) throws IOException {
        int received = -1;
        int done = 0;
        while (done < token.length) {
            Posix.Received got;
            try {
                got = Posix.receive(control, token, done, token.length - done);
            } catch (IOException e) {
                if (received >= 0) {
                    Posix.closeQuietly(received);
                }
                throw e;
            }
            for (int descriptor : got.descriptors()) {
                if (received < 0) {
                    received = descriptor;
                } else {
                    Posix.closeQuietly(descriptor);
                }
            }
            if (got.bytes() == 0) {
                if (received >= 0) {
                    Posix.closeQuietly(received);
                }
                if (done == 0) {
                    return -1;
                }
                throw new EOFException("closed after " + done + " token bytes");
            }
            done += got.bytes();
        }
        if (received < 0) {
            throw new IOException("no descriptor came with the token");
        }
        return received;
    }

    /**
     * On a handler thread, as the SDK serves a {@code StreamHandler}: the number cast to a
     * descriptor (junixsocket checks that it is a socket), made blocking, file streams on it,
     * no socket object.
     */
    private static void serveAdopted(int number) {
        FileDescriptor descriptor;
        try {
            descriptor = FileDescriptorCast.unsafeUsing(number).getFileDescriptor();
        } catch (IOException e) {
            Posix.closeQuietly(number);
            System.out.println("a handed-off descriptor could not be adopted: " + e);
            return;
        }
        try (FileInputStream in = new FileInputStream(descriptor)) {
            Posix.makeBlocking(number);
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
