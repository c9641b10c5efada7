package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;

/** The baseline route: answer {@code Negotiated{backend_pipe}} and close; the client reconnects. */
public final class ReconnectRouter implements ConnectionRouter {

    private final HelloReplies replies;

    public ReconnectRouter(HelloReplies replies) {
        this.replies = replies;
    }

    @Override
    public void route(ClientConnection connection, HelloDecision.Negotiate decision) {
        connection.reply(replies.negotiated(decision, connection.id(), null), decision,
                ClientConnection.CLOSE_AFTER_REPLY);
    }
}
