package io.handoffbroker.backend;

import io.handoffbroker.unix.BoundSocketFile;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One of the backend's listening sockets: binds at a path (creating its directory,
 * replacing a stale socket file, refusing a live one) and, on close, removes the
 * socket file only while it is still the one it bound.
 */
final class BoundListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BoundListener.class);

    private final AFUNIXServerSocket socket;
    private final BoundSocketFile file;

    private BoundListener(AFUNIXServerSocket socket, BoundSocketFile file) {
        this.socket = socket;
        this.file = file;
    }

    static BoundListener bind(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        SocketFile.claim(path);
        // No deleteOnClose: junixsocket would unlink by path, a successor's file included.
        AFUNIXServerSocket socket = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), false);
        try {
            return new BoundListener(socket, BoundSocketFile.identify(path));
        } catch (IOException e) {
            Descriptors.closeQuietly(socket);
            throw e;
        }
    }

    AFUNIXServerSocket socket() {
        return socket;
    }

    Path path() {
        return file.path();
    }

    boolean isClosed() {
        return socket.isClosed();
    }

    @Override
    public void close() {
        Descriptors.closeQuietly(socket);
        try {
            file.removeIfStillOurs();
        } catch (IOException e) {
            log.warn("could not remove socket file {}: {}", file, e.toString());
        }
    }
}
