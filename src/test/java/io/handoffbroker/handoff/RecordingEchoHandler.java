package io.handoffbroker.handoff;

import io.handoffbroker.backend.ConnectionHandler;
import io.handoffbroker.demo.EchoHandler;
import java.io.IOException;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketCredentials;

/**
 * The demo echo, recording for every connection it serves the address it was
 * accepted on (the broker's socket for a handed-off connection, {@code backend_pipe}
 * for a reconnect) and the kernel-verified peer pid.
 */
final class RecordingEchoHandler implements ConnectionHandler {

    record Served(String localPath, long peerPid) {
    }

    private final List<Served> served = new CopyOnWriteArrayList<>();
    private final EchoHandler echo = new EchoHandler();

    @Override
    public void serve(AFUNIXSocket connection) throws IOException {
        SocketAddress local = connection.getLocalSocketAddress();
        String path = local instanceof AFUNIXSocketAddress unix ? unix.getPath() : String.valueOf(local);
        AFUNIXSocketCredentials peer = connection.getPeerCredentials();
        served.add(new Served(path, peer == null ? -1 : peer.getPid()));
        echo.serve(connection);
    }

    List<Served> served() {
        return List.copyOf(served);
    }

    long servedOn(String path) {
        return served.stream().filter(s -> s.localPath().equals(path)).count();
    }
}
