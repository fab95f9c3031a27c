"""The REST API (``/api/v1/``): one more door into the same access policy (``mobility.policy``) and lifecycle
(``mobility.lifecycle``) as the pages. Views parse input, ask the policy, call the services the pages call and
shape the answer; serializers shape data only; nothing here holds a rule of its own."""
