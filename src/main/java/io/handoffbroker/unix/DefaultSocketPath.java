package io.handoffbroker.unix;

import java.nio.file.Path;

/**
 * Where the broker listens when {@code broker.socket-path} is not set, and where
 * clients look for it: {@code $XDG_RUNTIME_DIR/handoff-broker/broker.sock} (a
 * per-user directory the session manager already keeps private), else
 * {@code <java.io.tmpdir>/handoff-broker-<uid>/broker.sock}. In a shared temporary
 * directory another user can make that directory first; the broker then refuses it
 * ({@link SocketFile#preparePrivateParent}) instead of listening where that user could
 * replace its socket.
 */
public final class DefaultSocketPath {

    private DefaultSocketPath() {
    }

    public static Path resolve() {
        String runtimeDir = System.getenv("XDG_RUNTIME_DIR");
        if (runtimeDir != null && !runtimeDir.isBlank() && Path.of(runtimeDir).isAbsolute()) {
            return Path.of(runtimeDir, "handoff-broker", "broker.sock");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "handoff-broker-" + ProcessUser.uid(), "broker.sock");
    }
}
