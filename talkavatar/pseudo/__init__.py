"""The pseudo stage: the person of the photo re-rendered in other poses, expressions and views, as pseudo-labels
for the fit (One Shot One Talk §3.2), and videos from external generators imported as more of them."""
