package io.handoffbroker.config;

import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.SocketFileWatch;
import io.handoffbroker.unix.ClassesAhead;
import java.io.IOException;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.LivenessState;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.ApplicationListener;
import org.springframework.context.SmartLifecycle;

/**
 * Starts the demo backend (if any), the backend prober, the listener and the watch of its
 * socket file, in that order, once the context is ready; on shutdown stops the watch, flips
 * readiness to refusing-traffic and drains the listener within the grace period.
 *
 * <p>Liveness turns {@code BROKEN} when the event loop fails, and while the socket path does not
 * name the listener's socket (removed or replaced): either way no new client can reach this
 * broker until it is restarted.
 *
 * <p>Its phase is above the web server's, so it starts after the actuator is up
 * and stops (drains) while the actuator still answers.
 */
public final class BrokerLifecycle implements SmartLifecycle, ApplicationListener<ApplicationReadyEvent> {

    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;

    private final BrokerServer server;
    private final BackendProber prober;
    private final HandoffOrchestrator orchestrator;
    private final @Nullable DemoEchoService demo;
    private final Duration gracePeriod;
    private final ApplicationEventPublisher events;
    private final SocketFileWatch socketFileWatch;
    private volatile boolean running;

    public BrokerLifecycle(BrokerServer server, BackendProber prober, HandoffOrchestrator orchestrator,
            @Nullable DemoEchoService demo, Duration gracePeriod, ApplicationEventPublisher events) {
        this.server = server;
        this.prober = prober;
        this.orchestrator = orchestrator;
        this.demo = demo;
        this.gracePeriod = gracePeriod;
        this.events = events;
        // Unreachable through its path, the listener serves nobody new: a restart binds the path again.
        this.socketFileWatch = new SocketFileWatch(server, SocketFileWatch.INTERVAL, this::socketFileLost,
                this::socketFileIsBack);
    }

    // Under this object's lock: the watch's thread and the event loop's report to it, and a loop
    // that failed must never be reported live again by a socket file that came back meanwhile.
    private boolean loopFailed;
    private boolean socketFileLost;

    private synchronized void liveness(LivenessState state) {
        AvailabilityChangeEvent.publish(events, this, state);
    }

    synchronized void loopFailed() {
        loopFailed = true;
        liveness(LivenessState.BROKEN);
    }

    private synchronized void socketFileLost() {
        socketFileLost = true;
        liveness(LivenessState.BROKEN);
    }

    synchronized void socketFileIsBack() {
        socketFileLost = false;
        if (!loopFailed) {
            liveness(LivenessState.CORRECT);
        }
    }

    /**
     * Spring Boot declares the application live once it has started, after this lifecycle's
     * start: a loop that failed, or a socket file lost, in between would be hidden by it.
     */
    @Override
    public synchronized void onApplicationEvent(ApplicationReadyEvent ready) {
        if (loopFailed || socketFileLost) {
            liveness(LivenessState.BROKEN);
        }
    }

    /**
     * Loads the broker's own classes, so that what runs only when descriptors have run out can be
     * loaded then; see {@link ClassesAhead}. (The demo's backend loads the backend SDK's own when
     * it starts.) Public for the tests that start a broker without the application.
     */
    public static void loadClassesAhead() {
        ClassesAhead.load(BrokerLifecycle.class, "io.handoffbroker.wire", "io.handoffbroker.unix",
                "io.handoffbroker.negotiation", "io.handoffbroker.server", "io.handoffbroker.handoff",
                "io.handoffbroker.demo", "io.handoffbroker.observability");
    }

    @Override
    public void start() {
        loadClassesAhead();
        String socket = "broker.socket-path " + server.socketPath();
        try {
            server.checkSocketPath();
        } catch (IOException e) {
            throw BrokerStartupException.starting(socket, "broker.socket-path", e);
        }
        if (demo != null) {
            try {
                demo.start();
            } catch (IOException e) {
                throw BrokerStartupException.starting("the built-in demo (broker.demo.directory "
                        + demo.directory() + ")", "broker.demo.*", e);
            }
        }
        prober.start();
        orchestrator.pool().prepareAll();
        // A loop that failed serves nobody, and only a restart brings it back: say so to the liveness probe.
        server.onLoopFailure(this::loopFailed);
        try {
            server.start();
            socketFileWatch.start();
        } catch (IOException e) {
            throw BrokerStartupException.starting(socket, "broker.socket-path", e);
        }
        running = true;
    }

    @Override
    public void stop() {
        // First: the drain removes the socket file, which is no loss of it.
        socketFileWatch.close();
        AvailabilityChangeEvent.publish(events, this, ReadinessState.REFUSING_TRAFFIC);
        long drainBegan = System.nanoTime();
        server.drain(gracePeriod);
        // The handoffs the workers carry had the grace period too: a stop takes the longer of the two
        // waits, not their sum.
        orchestrator.close(drainBegan);
        prober.close();
        if (demo != null) {
            demo.close();
        }
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}
