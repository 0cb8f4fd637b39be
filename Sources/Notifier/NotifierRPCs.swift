import FixpointCore
import FixpointProtocol
import GRPCCore

/// `fixpoint.v1.NotifierService`. Alerts work; channels, subscriptions and deliveries answer
/// UNIMPLEMENTED until delivery to Slack, SMTP and webhooks is built.
struct NotifierRPCs: Fixpoint_V1_NotifierService.SimpleServiceProtocol {
  let alerts: AlertStore

  private static func later(_ method: String) -> ServiceError {
    .unimplemented("\(method): channels, subscriptions and deliveries (Slack, SMTP, signed webhooks) are not built yet")
  }

  func listAlerts(request: Fixpoint_V1_ListAlertsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListAlertsResponse {
    let (rows, page) = try await self.alerts.list(request)
    return .with {
      $0.alerts = rows.map(\.proto)
      $0.nextPageToken = page.nextToken(returned: rows.count)
    }
  }

  func getAlert(request: Fixpoint_V1_GetAlertRequest, context: ServerContext) async throws -> Fixpoint_V1_Alert {
    try await self.alerts.get(request.alertID).proto
  }

  func createAlert(request: Fixpoint_V1_CreateAlertRequest, context: ServerContext) async throws -> Fixpoint_V1_Alert {
    try await self.alerts.create(request, by: try currentPrincipal())
  }

  func acknowledgeAlert(request: Fixpoint_V1_AcknowledgeAlertRequest, context: ServerContext) async throws -> Fixpoint_V1_Alert {
    try await self.alerts.transition(
      request.alertID, to: .acknowledged, comment: request.comment, request: request, requestID: request.requestID, by: try currentPrincipal())
  }

  func resolveAlert(request: Fixpoint_V1_ResolveAlertRequest, context: ServerContext) async throws -> Fixpoint_V1_Alert {
    try await self.alerts.transition(
      request.alertID, to: .resolved, comment: request.comment, request: request, requestID: request.requestID, by: try currentPrincipal())
  }

  func createChannel(request: Fixpoint_V1_CreateChannelRequest, context: ServerContext) async throws -> Fixpoint_V1_Channel {
    throw Self.later("CreateChannel")
  }

  func listChannels(request: Fixpoint_V1_ListChannelsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListChannelsResponse {
    throw Self.later("ListChannels")
  }

  func deleteChannel(request: Fixpoint_V1_DeleteChannelRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteChannelResponse {
    throw Self.later("DeleteChannel")
  }

  func testChannel(request: Fixpoint_V1_TestChannelRequest, context: ServerContext) async throws -> Fixpoint_V1_Delivery {
    throw Self.later("TestChannel")
  }

  func createSubscription(request: Fixpoint_V1_CreateSubscriptionRequest, context: ServerContext) async throws -> Fixpoint_V1_Subscription {
    throw Self.later("CreateSubscription")
  }

  func listSubscriptions(request: Fixpoint_V1_ListSubscriptionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListSubscriptionsResponse {
    throw Self.later("ListSubscriptions")
  }

  func deleteSubscription(request: Fixpoint_V1_DeleteSubscriptionRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteSubscriptionResponse {
    throw Self.later("DeleteSubscription")
  }

  func listDeliveries(request: Fixpoint_V1_ListDeliveriesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListDeliveriesResponse {
    throw Self.later("ListDeliveries")
  }

  func redeliverDelivery(request: Fixpoint_V1_RedeliverDeliveryRequest, context: ServerContext) async throws -> Fixpoint_V1_Delivery {
    throw Self.later("RedeliverDelivery")
  }
}
