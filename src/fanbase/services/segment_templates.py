"""Ready-made segments: every example in the user's guides, written in the text form of the rule language.

"Inactive" is the one template that says more than its guide's one-liner: a fan who joined last week and has not
done anything yet is not "inactive for 30 days", and a fan who never did anything since joining long ago is. So it
reads "no activity in the last 30 days, and joined more than 30 days ago" (see the window notes in
``fanbase.core.evaluate``).
"""

from __future__ import annotations

from fanbase.schemas.segments import SegmentTemplate

TEMPLATES: tuple[SegmentTemplate, ...] = (
    SegmentTemplate(
        key="is-customer",
        name="Is Customer",
        description="Fans at the customer stage of the funnel.",
        rule_text="lifecycle_stage = customer",
    ),
    SegmentTemplate(
        key="is-advocate",
        name="Is Advocate",
        description="Fans at the advocate stage of the funnel.",
        rule_text="lifecycle_stage = advocate",
    ),
    SegmentTemplate(
        key="spent-over-50",
        name="Total Spent > $50",
        description="Fans whose completed orders add up to more than $50.",
        rule_text="total_spent > 50",
    ),
    SegmentTemplate(
        key="spent-over-100",
        name="Total Spent > $100",
        description="Fans whose completed orders add up to more than $100.",
        rule_text="total_spent > 100",
    ),
    SegmentTemplate(
        key="has-purchased",
        name="Has Purchased",
        description="Fans with at least one completed order.",
        rule_text="purchase_count > 0",
    ),
    SegmentTemplate(
        key="frequent-buyer",
        name="Frequent Buyer",
        description="Fans with more than 5 completed orders.",
        rule_text="purchase_count > 5",
    ),
    SegmentTemplate(
        key="source-subscription",
        name="Source: Subscription",
        description="Fans who came in by subscribing.",
        rule_text="source = subscription",
    ),
    SegmentTemplate(
        key="source-direct-purchase",
        name="Source: Direct Purchase",
        description="Fans who came in by buying something.",
        rule_text="source = direct_purchase",
    ),
    SegmentTemplate(
        key="inactive",
        name="Inactive",
        description="No activity in the last 30 days (and joined more than 30 days ago).",
        rule_text="not last_active_at within_last 30 days and created_at more_than 30 days ago",
    ),
    SegmentTemplate(
        key="active",
        name="Active",
        description="Active within the last 7 days.",
        rule_text="last_active_at within_last 7 days",
    ),
    SegmentTemplate(
        key="high-spenders",
        name="High-Spenders",
        description="Fans who have spent more than $200 in all.",
        rule_text="total_spent > 200",
    ),
    SegmentTemplate(
        key="engaged-fans",
        name="Engaged Fans",
        description="Fans with at least 3 activities in the last 30 days.",
        rule_text="count(events within 30 days) >= 3",
    ),
    SegmentTemplate(
        key="high-value-active",
        name="High Value – Active",  # noqa: RUF001 - the guides spell it with an en dash
        description="High-Spenders who are also Engaged Fans (a segment of segments).",
        rule_text='segment "High-Spenders" and segment "Engaged Fans"',
        requires=("high-spenders", "engaged-fans"),
    ),
    SegmentTemplate(
        key="multi-event-attendees",
        name="Multi-Event Attendees",
        description="Fans who attended at least 2 gigs.",
        rule_text='count(events where type = "gig_attended") >= 2',
    ),
    SegmentTemplate(
        key="course-completers",
        name="Course Completers",
        description="Fans who completed at least one course.",
        rule_text='count(events where type = "course_completed") >= 1',
    ),
    SegmentTemplate(
        key="repeat-buyers",
        name="Repeat Buyers",
        description="Fans with 2 or more completed orders.",
        rule_text="purchase_count >= 2",
    ),
    SegmentTemplate(
        key="inactive-members",
        name="Inactive Members",
        description="Fan Club members with no activity in the last 60 days.",
        rule_text='list "Fan Club Members" and not last_active_at within_last 60 days',
    ),
    SegmentTemplate(
        key="merch-and-gigs",
        name="Merch Buyers at 2+ Gigs",
        description="Spent more than $100 on merchandise and attended at least two gigs in the last year.",
        rule_text=(
            'sum(amount of orders where category = "merch") > 100 '
            'and count(events where type = "gig_attended" within 365 days) >= 2'
        ),
    ),
)

TEMPLATES_BY_KEY = {template.key: template for template in TEMPLATES}
