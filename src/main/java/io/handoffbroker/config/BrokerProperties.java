package io.handoffbroker.config;

import io.handoffbroker.unix.ProcessUser;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.hibernate.validator.constraints.time.DurationMax;
import org.hibernate.validator.constraints.time.DurationMin;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * Everything an operator sets under {@code broker.*}. Invalid values fail start-up
 * with the offending key and value in the message.
 */
@ConfigurationProperties("broker")
@Validated
public class BrokerProperties {

    static final String SEMVER = "^[0-9]+\\.[0-9]+\\.[0-9]+(-[a-z0-9.]+)?$";
    private static final String SEMVER_MESSAGE = "must be MAJOR.MINOR.PATCH[-prerelease]";
    static final String SERVICE_NAME = "^[a-z0-9-]{1,64}$";
    // Every duration at most a century: added to the nanosecond clock, a much longer one
    // overflows (at about 292 years) and would fail start-up without naming its key.
    static final long MAX_DAYS = 36_500;
    private static final String UID_MESSAGE = "must be a uid, 0 to " + ProcessUser.MAX_UID + " (handoff-endpoint-uids)";
    private static final String PEER_UID_MESSAGE = "must be a uid, 0 to " + ProcessUser.MAX_UID + " (allowed-uids)";

    /** Unix socket clients connect to. Default: $XDG_RUNTIME_DIR/handoff-broker/broker.sock, else a per-user directory in the temp dir. */
    private @Nullable Path socketPath;

    /** How long a new connection has to deliver its complete Hello before it is closed. */
    @DurationMin(millis = 1)
    @DurationMax(days = MAX_DAYS)
    private Duration helloTimeout = Duration.ofSeconds(2);

    /** Open client connections at most; beyond it new clients wait in the listen backlog. */
    @Min(1)
    private int maxConnections = 10_240;

    /** Listen backlog of the broker socket. */
    @Min(1)
    private int backlog = 1024;

    /** Sent to clients as Negotiated.keepalive_interval_secs. */
    @DurationMin(seconds = 1)
    @DurationMax(days = MAX_DAYS)
    private Duration keepaliveInterval = Duration.ofMinutes(30);

    /** On shutdown, how long in-flight Hellos and handoffs get to finish before their connections are closed. */
    @DurationMin(millis = 0)
    @DurationMax(days = MAX_DAYS)
    private Duration shutdownGracePeriod = Duration.ofSeconds(5);

    /** Who may connect, decided from the kernel-verified uid of each connection. */
    @Valid
    private final Peer peer = new Peer();

    /** Per-peer Hello rate limit. */
    @Valid
    private final RateLimit rateLimit = new RateLimit();

    /** Background reachability probes of every backend endpoint. */
    @Valid
    private final BackendProbe backendProbe = new BackendProbe();

    /** The built-in demo echo service. */
    @Valid
    private final Demo demo = new Demo();

    /** Deadlines and bounds of the connection handoff. */
    @Valid
    private final Handoff handoff = new Handoff();

    /** One entry per running backend; a name may repeat with other versions. */
    private List<@Valid Service> services = new ArrayList<>();

    public @Nullable Path getSocketPath() {
        return socketPath;
    }

    public void setSocketPath(@Nullable Path socketPath) {
        this.socketPath = socketPath;
    }

    public Duration getHelloTimeout() {
        return helloTimeout;
    }

    public void setHelloTimeout(Duration helloTimeout) {
        this.helloTimeout = helloTimeout;
    }

    public int getMaxConnections() {
        return maxConnections;
    }

    public void setMaxConnections(int maxConnections) {
        this.maxConnections = maxConnections;
    }

    public int getBacklog() {
        return backlog;
    }

    public void setBacklog(int backlog) {
        this.backlog = backlog;
    }

    public Duration getKeepaliveInterval() {
        return keepaliveInterval;
    }

    public void setKeepaliveInterval(Duration keepaliveInterval) {
        this.keepaliveInterval = keepaliveInterval;
    }

    public Duration getShutdownGracePeriod() {
        return shutdownGracePeriod;
    }

    public void setShutdownGracePeriod(Duration shutdownGracePeriod) {
        this.shutdownGracePeriod = shutdownGracePeriod;
    }

    public Peer getPeer() {
        return peer;
    }

    public RateLimit getRateLimit() {
        return rateLimit;
    }

    public BackendProbe getBackendProbe() {
        return backendProbe;
    }

    public Demo getDemo() {
        return demo;
    }

    public Handoff getHandoff() {
        return handoff;
    }

    public List<Service> getServices() {
        return services;
    }

    public void setServices(List<Service> services) {
        this.services = services;
    }

    /** Peer admission policy. */
    public enum PeerPolicyKind {
        /** Only processes running as the broker's own uid. */
        SAME_UID,
        /** Any local process that can reach the socket file. */
        ANY,
        /** Only the uids in broker.peer.allowed-uids. */
        ALLOW_LIST
    }

    public static class Peer {

        /** same-uid (default), any, or allow-list. */
        @NotNull
        private PeerPolicyKind policy = PeerPolicyKind.SAME_UID;

        /** The uids admitted when the policy is allow-list. */
        private List<@NotNull(message = PEER_UID_MESSAGE) @Min(value = 0, message = PEER_UID_MESSAGE)
                @Max(value = ProcessUser.MAX_UID, message = PEER_UID_MESSAGE) Long> allowedUids = new ArrayList<>();

        public PeerPolicyKind getPolicy() {
            return policy;
        }

        public void setPolicy(PeerPolicyKind policy) {
            this.policy = policy;
        }

        public List<Long> getAllowedUids() {
            return allowedUids;
        }

        public void setAllowedUids(List<Long> allowedUids) {
            this.allowedUids = allowedUids;
        }

        @AssertTrue(message = "broker.peer.allowed-uids must list at least one uid when broker.peer.policy is allow-list")
        boolean isAllowListNotEmpty() {
            return policy != PeerPolicyKind.ALLOW_LIST || !allowedUids.isEmpty();
        }
    }

    public static class RateLimit {

        /** Hellos one peer (kernel pid) may send per window before RATE_LIMITED. */
        @Min(1)
        private int hellosPerPeer = 256;

        /** The rate-limit window. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration window = Duration.ofSeconds(1);

        public int getHellosPerPeer() {
            return hellosPerPeer;
        }

        public void setHellosPerPeer(int hellosPerPeer) {
            this.hellosPerPeer = hellosPerPeer;
        }

        public Duration getWindow() {
            return window;
        }

        public void setWindow(Duration window) {
            this.window = window;
        }
    }

    public static class BackendProbe {

        /** How often every backend endpoint is probed; also the retry hint for clients refused while it is down. */
        @DurationMin(millis = 10)
        @DurationMax(days = MAX_DAYS)
        private Duration interval = Duration.ofSeconds(2);

        /** How long one probe may wait for a connection. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration timeout = Duration.ofMillis(500);

        public Duration getInterval() {
            return interval;
        }

        public void setInterval(Duration interval) {
            this.interval = interval;
        }

        public Duration getTimeout() {
            return timeout;
        }

        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }
    }

    public static class Demo {

        /** Run the built-in demo echo service in-process (service name "echo"). */
        private boolean enabled = true;

        /** The version the demo service is registered under. */
        @Pattern(regexp = SEMVER, message = SEMVER_MESSAGE)
        private String version = "1.0.0";

        /** Directory of the demo's sockets. Default: "demo" next to the broker socket. */
        private @Nullable Path directory;

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public String getVersion() {
            return version;
        }

        public void setVersion(String version) {
            this.version = version;
        }

        public @Nullable Path getDirectory() {
            return directory;
        }

        public void setDirectory(@Nullable Path directory) {
            this.directory = directory;
        }
    }

    public static class Handoff {

        /** Master switch: false sends every client by the reconnect route. */
        private boolean enabled = true;

        /** How long the broker waits for a backend's ACK before it abandons the handoff (reference: 5 s). */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration ackDeadline = Duration.ofSeconds(5);

        /** How long a control connection is still watched after the deadline, to count a late ACK apart from a missing one. */
        @DurationMin(millis = 0)
        @DurationMax(days = MAX_DAYS)
        private Duration ackGracePeriod = Duration.ofSeconds(5);

        /** The longest a handoff token may stay pending (reference: 30 s); at least the ACK deadline. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration tokenTtl = Duration.ofSeconds(30);

        /**
         * Handoffs in flight at most; beyond it clients take the reconnect route (fd_pressure). At most
         * 1,048,576: each is a client descriptor in flight, and the delivery queue is allocated at this size.
         */
        @Min(1)
        @Max(1_048_576)
        private int maxPendingTokens = 1024;

        /** Failed handoffs per backend within failed-attempt-window before the backend is skipped (rate_limited). */
        @Min(1)
        private int failedAttemptLimit = 5;

        /** The window of failed-attempt-limit. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration failedAttemptWindow = Duration.ofSeconds(60);

        /** Threads that run deliveries (each holds one control connection while it waits for an ACK). */
        @Min(1)
        @Max(1024)
        private int workers = 16;

        /** Control connections per handoff endpoint at most. */
        @Min(1)
        private int poolSize = 8;

        /** Control connections kept dialled and idle per handoff endpoint. */
        @Min(0)
        private int poolMinIdle = 2;

        /** How long a handoff waits for a free control connection before the client falls back; never past its ACK deadline. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration poolBorrowTimeout = Duration.ofMillis(250);

        /** How long dialling one control connection may take; never past the handoff's ACK deadline. */
        @DurationMin(millis = 1)
        @DurationMax(days = MAX_DAYS)
        private Duration dialTimeout = Duration.ofMillis(250);

        /** How often idle control connections are checked and the minimum refilled. */
        @DurationMin(millis = 10)
        @DurationMax(days = MAX_DAYS)
        private Duration poolMaintenanceInterval = Duration.ofSeconds(5);

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public Duration getAckDeadline() {
            return ackDeadline;
        }

        public void setAckDeadline(Duration ackDeadline) {
            this.ackDeadline = ackDeadline;
        }

        public Duration getAckGracePeriod() {
            return ackGracePeriod;
        }

        public void setAckGracePeriod(Duration ackGracePeriod) {
            this.ackGracePeriod = ackGracePeriod;
        }

        public Duration getTokenTtl() {
            return tokenTtl;
        }

        public void setTokenTtl(Duration tokenTtl) {
            this.tokenTtl = tokenTtl;
        }

        public int getMaxPendingTokens() {
            return maxPendingTokens;
        }

        public void setMaxPendingTokens(int maxPendingTokens) {
            this.maxPendingTokens = maxPendingTokens;
        }

        public int getFailedAttemptLimit() {
            return failedAttemptLimit;
        }

        public void setFailedAttemptLimit(int failedAttemptLimit) {
            this.failedAttemptLimit = failedAttemptLimit;
        }

        public Duration getFailedAttemptWindow() {
            return failedAttemptWindow;
        }

        public void setFailedAttemptWindow(Duration failedAttemptWindow) {
            this.failedAttemptWindow = failedAttemptWindow;
        }

        public int getWorkers() {
            return workers;
        }

        public void setWorkers(int workers) {
            this.workers = workers;
        }

        public int getPoolSize() {
            return poolSize;
        }

        public void setPoolSize(int poolSize) {
            this.poolSize = poolSize;
        }

        public int getPoolMinIdle() {
            return poolMinIdle;
        }

        public void setPoolMinIdle(int poolMinIdle) {
            this.poolMinIdle = poolMinIdle;
        }

        public Duration getPoolBorrowTimeout() {
            return poolBorrowTimeout;
        }

        public void setPoolBorrowTimeout(Duration poolBorrowTimeout) {
            this.poolBorrowTimeout = poolBorrowTimeout;
        }

        public Duration getDialTimeout() {
            return dialTimeout;
        }

        public void setDialTimeout(Duration dialTimeout) {
            this.dialTimeout = dialTimeout;
        }

        public Duration getPoolMaintenanceInterval() {
            return poolMaintenanceInterval;
        }

        public void setPoolMaintenanceInterval(Duration poolMaintenanceInterval) {
            this.poolMaintenanceInterval = poolMaintenanceInterval;
        }

        @AssertTrue(message = "broker.handoff.token-ttl must be at least broker.handoff.ack-deadline")
        boolean isTokenTtlCoveringDeadline() {
            return tokenTtl.compareTo(ackDeadline) >= 0;
        }

        @AssertTrue(message = "broker.handoff.pool-min-idle must not exceed broker.handoff.pool-size")
        boolean isMinIdleWithinPool() {
            return poolMinIdle <= poolSize;
        }
    }

    public static class Service {

        /** Service name clients ask for: [a-z0-9-]{1,64}. */
        @NotNull
        @Pattern(regexp = SERVICE_NAME, message = "must match [a-z0-9-]{1,64} (lower case, digits, '-')")
        private @Nullable String name;

        /** The version this backend runs: MAJOR.MINOR.PATCH[-prerelease]. */
        @NotNull
        @Pattern(regexp = SEMVER, message = SEMVER_MESSAGE)
        private @Nullable String version;

        /** The backend's own socket, returned to clients as backend_pipe. */
        @NotNull
        private @Nullable Path backendEndpoint;

        /** Optional socket on which the backend accepts handed-off connections. */
        private @Nullable Path handoffEndpoint;

        /** Whether to hand connections to this backend; defaults to true when a handoff-endpoint is set. */
        private @Nullable Boolean handoffEnabled;

        /**
         * The uids the process listening at handoff-endpoint may run as: the broker hands client
         * connections to no other. Empty (the default) means any; set it when the endpoint's
         * directory is not private to the backend's user.
         */
        private List<@NotNull(message = UID_MESSAGE) @Min(value = 0, message = UID_MESSAGE)
                @Max(value = ProcessUser.MAX_UID, message = UID_MESSAGE) Long> handoffEndpointUids = new ArrayList<>();

        /** Optional lowest wanted_version accepted. */
        @Pattern(regexp = SEMVER, message = SEMVER_MESSAGE)
        private @Nullable String minVersion;

        /** Optional exact allow-list of wanted_versions; empty means any. */
        private List<@Pattern(regexp = SEMVER, message = SEMVER_MESSAGE) String>
                allowedVersions = new ArrayList<>();

        public @Nullable String getName() {
            return name;
        }

        public void setName(@Nullable String name) {
            this.name = name;
        }

        public @Nullable String getVersion() {
            return version;
        }

        public void setVersion(@Nullable String version) {
            this.version = version;
        }

        public @Nullable Path getBackendEndpoint() {
            return backendEndpoint;
        }

        public void setBackendEndpoint(@Nullable Path backendEndpoint) {
            this.backendEndpoint = backendEndpoint;
        }

        public @Nullable Path getHandoffEndpoint() {
            return handoffEndpoint;
        }

        public void setHandoffEndpoint(@Nullable Path handoffEndpoint) {
            this.handoffEndpoint = handoffEndpoint;
        }

        public @Nullable Boolean getHandoffEnabled() {
            return handoffEnabled;
        }

        public void setHandoffEnabled(@Nullable Boolean handoffEnabled) {
            this.handoffEnabled = handoffEnabled;
        }

        public List<Long> getHandoffEndpointUids() {
            return handoffEndpointUids;
        }

        public void setHandoffEndpointUids(List<Long> handoffEndpointUids) {
            this.handoffEndpointUids = handoffEndpointUids;
        }

        public @Nullable String getMinVersion() {
            return minVersion;
        }

        public void setMinVersion(@Nullable String minVersion) {
            this.minVersion = minVersion;
        }

        public List<String> getAllowedVersions() {
            return allowedVersions;
        }

        public void setAllowedVersions(List<String> allowedVersions) {
            this.allowedVersions = allowedVersions;
        }

        @AssertTrue(message = "handoff-enabled is true but no handoff-endpoint is set")
        boolean isHandoffEndpointPresentWhenEnabled() {
            return !Boolean.TRUE.equals(handoffEnabled) || handoffEndpoint != null;
        }

        @AssertTrue(message = "handoff-endpoint-uids is set but no handoff-endpoint is set")
        boolean isHandoffEndpointPresentWhenItsUidsAre() {
            return handoffEndpointUids.isEmpty() || handoffEndpoint != null;
        }
    }
}
