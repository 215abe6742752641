//! Identifier newtypes of the console's own records, made with the platform's [`platform::id_type!`]:
//! parsed once at the edge; past it, an incident id cannot be mistaken for a repair id or an order id.

use platform::id_type;

pub use platform::ids::InvalidId;

id_type!(/// An operational incident.
    IncidentId, "incident");
id_type!(/// One event on an incident's timeline.
    EventId, "timeline event");
id_type!(/// One posted status update.
    StatusUpdateId, "status update");
id_type!(/// The delivery of one status update to one webhook.
    DeliveryId, "notification delivery");
id_type!(/// An incident's post-incident review.
    ReviewId, "post-incident review");
id_type!(/// An action item of a post-incident review.
    ActionItemId, "action item");
id_type!(/// A governed repair (`ops.repair_command_log`).
    RepairId, "repair");
id_type!(/// One approval or rejection of a repair.
    ApprovalId, "repair approval");
