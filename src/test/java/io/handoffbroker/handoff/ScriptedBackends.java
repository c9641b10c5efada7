package io.handoffbroker.handoff;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.HandoffFixture;
import java.nio.file.Path;

/**
 * The two backends of a handoff test, in the test's directory: a
 * {@link ScriptedHandoffBackend} at the handoff endpoint, misbehaving as each test
 * scripts it, and at {@code backend_pipe} a {@link BackendServer} with a
 * {@link RecordingEchoHandler} for the clients that fall back.
 */
final class ScriptedBackends implements AutoCloseable {

    private final Path pipe;
    private final Path handoffEndpoint;
    private final ScriptedHandoffBackend scripted;
    private final RecordingEchoHandler fallbackHandler = new RecordingEchoHandler();
    private final BackendServer fallback;

    private ScriptedBackends(Path dir, int fallbackConnections) throws Exception {
        this.pipe = dir.resolve("b").resolve("pipe.sock");
        this.handoffEndpoint = dir.resolve("h").resolve("ho.sock");
        this.scripted = new ScriptedHandoffBackend(handoffEndpoint).start();
        try {
            this.fallback = new BackendServer(pipe, fallbackHandler, fallbackConnections).start();
        } catch (Exception e) {
            scripted.close();
            throw e;
        }
    }

    static ScriptedBackends start(Path dir, int fallbackConnections) throws Exception {
        return new ScriptedBackends(dir, fallbackConnections);
    }

    Path pipe() {
        return pipe;
    }

    Path handoffEndpoint() {
        return handoffEndpoint;
    }

    /** The service both backends serve, handoff switched on. */
    ServiceBackend service() {
        return HandoffFixture.handoffService(pipe, handoffEndpoint);
    }

    ScriptedHandoffBackend scripted() {
        return scripted;
    }

    BackendServer fallback() {
        return fallback;
    }

    RecordingEchoHandler fallbackHandler() {
        return fallbackHandler;
    }

    @Override
    public void close() {
        scripted.close();
        fallback.close();
    }
}
