"""moto's server for the long AWS fault run's SQS: the same emulator, with two costs that grow with
a queue's length taken out (measured with py-spy on moto 5.2.5, scripts/requirements-test.txt).

- Every message a ReceiveMessage looks at checks its retention period by building all of the
  queue's attributes, which counts the queue's delayed and in-flight messages: quadratic in the
  queue's length. The check here reads the one attribute it needs; the rule is moto's own.
- SendMessage and GetQueueAttributes count every message too. Here the counts of a queue are
  kept for a fifth of a second. SQS documents them as approximate (they lag on AWS as well), and
  nothing in Hookline reads them; the fault run reads them to see the queue empty and then waits
  two seconds more.

Usage: python scripts/moto_sqs_server.py -H 127.0.0.1 -p PORT (as moto_server).
"""

import sys
import time

from moto.core.utils import unix_time
from moto.server import main
from moto.sqs.models import Queue, SQSBackend

COUNTS_KEPT_SECONDS = 0.2


def still_retained(self, queue_name, message):
    queue = self.get_queue(queue_name)
    return int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()


def kept_for_a_moment(name, count):
    def read(queue):
        kept = queue.__dict__.setdefault("_counts_kept", {})
        now = time.monotonic()
        if name in kept and now - kept[name][0] < COUNTS_KEPT_SECONDS:
            return kept[name][1]
        value = count(queue)
        kept[name] = (now, value)
        return value

    return property(read)


SQSBackend.is_message_valid_based_on_retention_period = still_retained
for counted in (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
):
    setattr(Queue, counted, kept_for_a_moment(counted, getattr(Queue, counted).fget))

if __name__ == "__main__":
    sys.exit(main())
