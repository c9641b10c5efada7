package io.handoffbroker.backend;

import java.io.IOException;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Serves one client connection, whichever route it came by. The socket is in
 * blocking mode; the client speaks first. The connection is closed when this
 * returns or throws.
 *
 * <p>A handler that needs only the connection's byte streams should implement
 * {@link StreamHandler} instead: handed-off connections then reach it without the
 * socket object, which is costly to build from a received descriptor.
 */
@FunctionalInterface
public interface ConnectionHandler {

    void serve(AFUNIXSocket connection) throws IOException;
}
