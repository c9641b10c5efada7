package io.handoffbroker.client;

import java.net.ConnectException;
import java.net.SocketException;
import java.nio.file.Path;

/**
 * No broker could be connected to at the client's broker socket: nothing is there, or a socket
 * file is there that nobody listens on (a broker that is not running, or the wrong path). A
 * {@link SocketException}, as the failed connect was, for callers that retry on one. A broker
 * that is there but does not take the connection in time (its backlog full) is a
 * {@link java.net.SocketTimeoutException} instead, a connect the system refused for another
 * reason (no permission to the socket, no descriptor left) a plain {@code SocketException}
 * naming the path, and a failure after the broker answered is neither.
 */
public final class BrokerUnreachableException extends SocketException {

    private static final long serialVersionUID = 1L;

    private final transient Path brokerSocket;

    BrokerUnreachableException(Path brokerSocket, SocketException cause) {
        super("no broker at " + brokerSocket + ": " + cause.getMessage());
        this.brokerSocket = brokerSocket;
        initCause(cause);
    }

    /**
     * True when the failed connect says nothing listens at the path: no such file (or a file on
     * the way that is no directory), or a socket file nobody listens on. junixsocket reports each
     * with the system's words.
     */
    static boolean saysNoBrokerIsThere(SocketException failedConnect) {
        if (failedConnect instanceof ConnectException) {
            return true;
        }
        String said = String.valueOf(failedConnect.getMessage());
        return said.contains("No such file or directory") || said.contains("Connection refused")
                || said.contains("Not a directory");
    }

    /** The broker socket the client was given. */
    public Path brokerSocket() {
        return brokerSocket;
    }
}
