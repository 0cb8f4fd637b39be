import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import GRPCCore

/// `fixpoint.v1.NotifierService`.
struct NotifierRPCs: Fixpoint_V1_NotifierService.SimpleServiceProtocol {
  let alerts: AlertStore
  let channels: Channels
  let deliveries: Deliveries
  let worker: DeliveryWorker

  func listAlerts(request: Fixpoint_V1_ListAlertsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListAlertsResponse {
    let (rows, page) = try await self.alerts.list(request)
    return .with {
      ($0.alerts, $0.nextPageToken) = page.fit(rows.map(\.proto))
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
    try await self.channels.create(request, by: try currentPrincipal())
  }

  func listChannels(request: Fixpoint_V1_ListChannelsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListChannelsResponse {
    let (rows, page) = try await self.channels.list(request)
    return .with {
      ($0.channels, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func deleteChannel(request: Fixpoint_V1_DeleteChannelRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteChannelResponse {
    try await self.channels.delete(request)
  }

  func rotateChannelSecret(request: Fixpoint_V1_RotateChannelSecretRequest, context: ServerContext) async throws -> Fixpoint_V1_Channel {
    try await self.channels.rotate(request)
  }

  /// Sends a test message now through the channel's real path and records it as a delivery; a
  /// test that fails goes to the dead letter at once (it is not retried).
  func testChannel(request: Fixpoint_V1_TestChannelRequest, context: ServerContext) async throws -> Fixpoint_V1_Delivery {
    let channel = try await self.channels.get(request.channelID)
    if !request.requestID.isEmpty { try Validate.text(request.requestID, field: "request_id", max: 128) }
    let now = Date().timeIntervalSince1970
    let content = NotificationContent(
      type: "channel.test", group_key: "", status: "test", counts: [:], firing: 0, resolved: 0, alerts: [], truncated: 0,
      repeat_notification: false, timestamp: Timestamps.iso(Date(timeIntervalSince1970: now)))
    // Not due for the worker: this call sends it.
    let record = try await self.deliveries.store.write { db in
      try Deliveries.queue(content, channel: channel.id, alertID: "", alertCount: 0, trigger: "test", due: now + 86_400, in: db, now: now)
    }
    let result = await self.worker.sender.send(record, channel: channel, now: now)
    try await self.worker.record([result])
    return try await self.deliveries.get(record.id)
  }

  func createSubscription(request: Fixpoint_V1_CreateSubscriptionRequest, context: ServerContext) async throws -> Fixpoint_V1_Subscription {
    try await self.channels.subscribe(request, by: try currentPrincipal())
  }

  func listSubscriptions(request: Fixpoint_V1_ListSubscriptionsRequest, context: ServerContext) async throws -> Fixpoint_V1_ListSubscriptionsResponse {
    let (rows, page) = try await self.channels.subscriptions(request)
    return .with {
      ($0.subscriptions, $0.nextPageToken) = page.fit(rows.map(\.proto))
    }
  }

  func deleteSubscription(request: Fixpoint_V1_DeleteSubscriptionRequest, context: ServerContext) async throws -> Fixpoint_V1_DeleteSubscriptionResponse {
    try await self.channels.unsubscribe(request)
  }

  func listDeliveries(request: Fixpoint_V1_ListDeliveriesRequest, context: ServerContext) async throws -> Fixpoint_V1_ListDeliveriesResponse {
    let (rows, page) = try await self.deliveries.list(request)
    return .with {
      ($0.deliveries, $0.nextPageToken) = page.fit(rows)
    }
  }

  func getDelivery(request: Fixpoint_V1_GetDeliveryRequest, context: ServerContext) async throws -> Fixpoint_V1_Delivery {
    try await self.deliveries.get(request.deliveryID)
  }

  func redeliverDelivery(request: Fixpoint_V1_RedeliverDeliveryRequest, context: ServerContext) async throws -> Fixpoint_V1_Delivery {
    try await self.deliveries.redeliver(request)
  }
}
