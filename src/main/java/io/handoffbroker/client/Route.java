package io.handoffbroker.client;

/** How a {@link ServiceConnection} reached its backend. */
public enum Route {
    /** The broker passed the client's own connection to the backend. */
    HANDED_OFF("handed-off"),
    /** The client connected to {@code backend_pipe} itself. */
    RECONNECTED("reconnected");

    private final String label;

    Route(String label) {
        this.label = label;
    }

    /** {@code handed-off} or {@code reconnected}. */
    public String label() {
        return label;
    }
}
