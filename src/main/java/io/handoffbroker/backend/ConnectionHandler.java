package io.handoffbroker.backend;

import java.io.IOException;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Serves one client connection, whichever route it came by. The socket is in
 * blocking mode; the client speaks first. The connection is closed when this
 * returns or throws.
 */
@FunctionalInterface
public interface ConnectionHandler {

    void serve(AFUNIXSocket connection) throws IOException;
}
