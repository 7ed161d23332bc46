//! Where updates enter the bot, whichever way they come (the webhook route or the poller):
//! each update id is recorded in the database first, so an update delivered twice (a webhook
//! retry, another instance's poller taking over) is answered once, then it goes to the
//! dispatcher through a channel that [`Inbox`] turns into a teloxide update listener.

use futures::StreamExt as _;
use futures::stream::BoxStream;
use reseller_core::Core;
use std::convert::Infallible;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, Update};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::sync::mpsc;

/// The update kinds the handlers answer (see `handlers::schema`); Telegram sends no others.
pub(crate) const ALLOWED_UPDATES: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::PreCheckoutQuery,
];

/// Updates waiting for the dispatcher; it takes them as fast as it can start handlers, so this
/// only bounds a burst.
const BACKLOG: usize = 256;

/// The two ends of the way in: [`Feed`] for whatever receives updates, [`Inbox`] for the
/// dispatcher. The binary makes one and hands it to the webhook routes and to `run`.
pub struct Intake {
    pub(crate) feed: Feed,
    pub(crate) inbox: Inbox,
}

impl Intake {
    pub fn new(core: Core) -> Intake {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let (stop, flag) = mk_stop_token();
        Intake {
            feed: Feed { core, tx },
            inbox: Inbox { rx, stop, flag },
        }
    }
}

/// Why an update could not be taken in; the sender should deliver it again later.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the bot is stopping")]
    Stopping,
    #[error("could not record the update: {0}")]
    Database(#[from] reseller_core::CoreError),
}

/// Takes updates in, once each.
#[derive(Clone)]
pub(crate) struct Feed {
    pub core: Core,
    tx: mpsc::Sender<Update>,
}

impl Feed {
    /// Records `update` and queues it for handling; `Ok(false)` if it was received before.
    /// A place in the queue is taken before recording, so a recorded update is never dropped
    /// for want of room.
    pub async fn accept(&self, update: Update) -> Result<bool, Refused> {
        let place = self.tx.reserve().await.map_err(|_| Refused::Stopping)?;
        if !self.core.record_update(i64::from(update.id.0)).await? {
            tracing::debug!(update_id = update.id.0, "update received before; dropped");
            return Ok(false);
        }
        place.send(update);
        Ok(true)
    }
}

/// The dispatcher's end: a teloxide update listener over the channel.
pub(crate) struct Inbox {
    rx: mpsc::Receiver<Update>,
    stop: StopToken,
    flag: StopFlag,
}

impl UpdateListener for Inbox {
    type Err = Infallible;

    fn stop_token(&mut self) -> StopToken {
        self.stop.clone()
    }
}

impl<'a> AsUpdateStream<'a> for Inbox {
    type StreamErr = Infallible;
    type Stream = BoxStream<'a, Result<Update, Infallible>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let rx = &mut self.rx;
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .map(Ok)
            .take_until(self.flag.clone())
            .boxed()
    }
}
