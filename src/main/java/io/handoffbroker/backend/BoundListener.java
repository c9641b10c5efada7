package io.handoffbroker.backend;

import io.handoffbroker.unix.BoundSocketFile;
import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.FailureText;
import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.net.BindException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One of the backend's listening sockets with its accept thread: binds at a path
 * (creating its directory 0700 if missing, refusing one another user could change, as
 * the broker does its own; replacing a stale socket file, refusing a live one),
 * hands every accepted connection to a consumer, and on close stops the thread and
 * removes the socket file only while it is still the one it bound.
 *
 * <p>Why close wakes its own accept first: closing a junixsocket listener while a
 * thread is blocked in {@code accept()} makes junixsocket unblock it with a
 * temporary socket of its own, which it leaks whenever that connect fails. A
 * connection from ourselves ends the accept cleanly instead.
 */
final class BoundListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BoundListener.class);
    private static final Duration STOP_WAIT = Duration.ofSeconds(2);
    private static final Duration MAX_ACCEPT_BACK_OFF = Duration.ofSeconds(1);

    private final AFUNIXServerSocket socket;
    private final BoundSocketFile file;
    private volatile boolean closing;
    private Thread acceptThread;

    /** The listen backlog unless told otherwise: {@code java.net.ServerSocket}'s default, and junixsocket's. */
    static final int DEFAULT_BACKLOG = 50;

    private BoundListener(AFUNIXServerSocket socket, BoundSocketFile file) {
        this.socket = socket;
        this.file = file;
    }

    /**
     * Binds and starts accepting. {@code onAccept} runs on the accept thread and
     * owns each connection it is given; it should return quickly (or give up when
     * {@link #isClosing()}), since the next accept waits for it.
     *
     * @param party what the path is, as the error for a live listener there names it
     * @param backlog connections the kernel queues for the accept thread (it caps them at
     *     {@code net.core.somaxconn})
     */
    static BoundListener start(Path path, SocketFile.Party party, int backlog, String threadName,
            Consumer<AFUNIXSocket> onAccept) throws IOException {
        // The broker's own rule for its socket: whoever can change the directory can put their
        // listener in the backend's place and be handed its clients.
        SocketFile.preparePrivateParent(path, party);
        SocketFile.claim(path, party);
        // No deleteOnClose: junixsocket would unlink by path, a successor's file included.
        AFUNIXServerSocket socket = AFUNIXServerSocket.newInstance();
        BoundListener listener;
        try {
            socket.setDeleteOnClose(false);
            bind(socket, path, backlog);
            listener = new BoundListener(socket, BoundSocketFile.identify(path));
        } catch (IOException e) {
            Descriptors.closeQuietly(socket);
            throw e;
        }
        listener.acceptThread = Thread.ofPlatform().name(threadName).daemon(true)
                .start(() -> listener.acceptLoop(onAccept));
        return listener;
    }

    /**
     * Binds {@code socket} at {@code path}; a refusal names the path, which the system's words
     * ("Permission denied", "Read-only file system") do not, and a server of two endpoints
     * would otherwise leave its caller to guess which one it was.
     */
    private static void bind(AFUNIXServerSocket socket, Path path, int backlog) throws IOException {
        try {
            socket.bind(AFUNIXSocketAddress.of(path), backlog);
        } catch (SocketException refused) {
            String message = "cannot bind " + path + ": " + FailureText.of(refused);
            // Of the same kind, for a caller that tells an address in use from other failures.
            SocketException named = refused instanceof BindException ? new BindException(message)
                    : new SocketException(message);
            named.initCause(refused);
            throw named;
        }
    }

    Path path() {
        return file.path();
    }

    /** True once {@link #close()} has begun. */
    boolean isClosing() {
        return closing;
    }

    private void acceptLoop(Consumer<AFUNIXSocket> onAccept) {
        int failuresInARow = 0;
        while (!closing && !socket.isClosed()) {
            AFUNIXSocket connection;
            try {
                connection = socket.accept();
            } catch (IOException e) {
                if (!closing && !socket.isClosed()) {
                    failuresInARow++;
                    backOff(failuresInARow, e);
                }
                continue;
            }
            if (failuresInARow > 0) {
                log.info("listener {}: accepting again after {} failed accepts", file, failuresInARow);
                failuresInARow = 0;
            }
            if (closing) {
                Descriptors.closeQuietly(connection); // our own wake-up call, or a client that came too late
                return;
            }
            try {
                onAccept.accept(connection);
            } catch (RuntimeException e) {
                log.warn("listener {}: a connection could not be taken on: {}", file, e.toString());
                Descriptors.closeQuietly(connection);
            }
        }
    }

    /**
     * A connection that could not be accepted stays in the backlog, so accepting again at
     * once fails the same way (out of descriptors, typically) and would spin a CPU and flood
     * the log while others need both to free descriptors. Waits 1 ms, doubling up to 1 s,
     * and logs the 1st, 2nd, 4th, 8th... failure of a run.
     */
    private void backOff(int failuresInARow, IOException e) {
        if (Integer.bitCount(failuresInARow) == 1) {
            log.warn("listener {}: accept failed ({} in a row, retrying with back-off): {}", file, failuresInARow,
                    e.toString());
        }
        long pauseMillis = 1L << Math.min(failuresInARow - 1, 10);
        LockSupport.parkNanos(this, Math.min(pauseMillis, MAX_ACCEPT_BACK_OFF.toMillis()) * 1_000_000L);
    }

    @Override
    public void close() {
        closing = true;
        Thread thread = acceptThread;
        if (thread != null && thread.isAlive() && thread != Thread.currentThread()) {
            LockSupport.unpark(thread); // out of a back-off at once
            wakeAccept();
            try {
                thread.join(STOP_WAIT);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Descriptors.closeQuietly(socket);
        try {
            file.removeIfStillOurs();
        } catch (IOException e) {
            log.warn("could not remove socket file {}: {}", file, e.toString());
        }
    }

    private void wakeAccept() {
        try {
            if (!file.isStillOurs()) {
                return; // another listener owns the path now; ours is reachable no more
            }
            // Never a blocking connect: with a full backlog the accept thread is not in accept() (it
            // waits for a handler slot and sees the closing flag there), and it would wait forever.
            BoundedConnect.probe(AFUNIXSocketAddress.of(file.path()));
        } catch (IOException e) {
            log.debug("listener {}: could not wake the accept thread: {}", file, e.toString());
        }
    }
}
