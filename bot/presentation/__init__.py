"""What people see: replies, the mapping layer, Block Kit views, the second reply, Slack ids."""
