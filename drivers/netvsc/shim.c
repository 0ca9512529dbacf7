// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvg_netvsc C shim: the net_device binding Rust-for-Linux lacks (alloc_etherdev_mqs, the
 * netdev and ethtool operation tables, NAPI, skb helpers, register/unregister) and the kernel
 * static inlines the Rust side cannot call. No protocol decision is taken here: every
 * operation forwards to the Rust functions pvg_netvsc_rs_*() (netdev.rs), and every helper
 * only moves data between the kernel's objects and plain values (see netdev.rs for the
 * contract of each).
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/io.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <net/ip6_checksum.h>
#include <net/ip.h>

static_assert(PAGE_SIZE == 4096);	/* Hyper-V pages are 4 KiB; page lists use page frames */

/* One channel's NAPI context; `nic` and `index` say whose it is. */
struct pvg_net_queue {
	struct napi_struct napi;
	void *nic;
	u32 index;
};

/* netdev_priv(): the Rust device (struct Nic) and one NAPI context per possible channel. */
struct pvg_net_priv {
	void *nic;
	u32 nqueues;
	struct pvg_net_queue q[];
};

/* Plain values the Rust side fills (netdev.rs mirrors these layouts). */
struct pvg_net_stats {
	u64 rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped, tx_dropped, rx_errors, multicast;
};

struct pvg_net_caps {
	u8 mac[ETH_ALEN];
	u8 csum_ip4, csum_ip6, tso4, tso6, pad[2];
	u32 min_mtu, max_mtu, tso_max;
	u32 headroom;
};

/* What the transmit path needs to know about an skb (l3: 0 other, 1 IPv4, 2 IPv6; l4: 0
 * other, 1 TCP, 2 UDP). */
struct pvg_net_tx_meta {
	u32 len;
	u32 transport_offset;
	u32 gso_size;
	u32 hash;
	u32 headlen;
	u32 nr_frags;
	u16 vlan_tci;
	u8 has_vlan;
	u8 l3;
	u8 l4;
	u8 csum_partial;
	u8 gso;
	u8 pad;
};

/* Implemented in Rust (netdev.rs). */
int pvg_netvsc_rs_open(void *nic);
int pvg_netvsc_rs_stop(void *nic);
int pvg_netvsc_rs_xmit(void *nic, struct sk_buff *skb, u16 queue);
u16 pvg_netvsc_rs_select_queue(void *nic, u32 hash, u32 nqueues);
int pvg_netvsc_rs_rx_mode(void *nic, bool promisc, bool allmulti, const u8 *mc, u32 mc_count, u32 mc_total);
void pvg_netvsc_rs_stats64(void *nic, struct pvg_net_stats *out);
int pvg_netvsc_rs_poll(void *nic, u32 queue, int budget);
void pvg_netvsc_rs_drvinfo(void *nic, char *fw, u32 fw_len, char *bus, u32 bus_len);
int pvg_netvsc_rs_sset_count(void *nic);
void pvg_netvsc_rs_strings(void *nic, u8 *data, u32 count);
void pvg_netvsc_rs_ethtool_stats(void *nic, u64 *data, u32 count);
void pvg_netvsc_rs_channels(void *nic, u32 *max, u32 *count);
void pvg_netvsc_rs_rings(void *nic, u32 *rx_max, u32 *rx, u32 *tx_max, u32 *tx);
u32 pvg_netvsc_rs_speed(void *nic);

static void *nic_of(struct net_device *dev)
{
	return ((struct pvg_net_priv *)netdev_priv(dev))->nic;
}

/* --- netdev operations ------------------------------------------------------------------ */

static int pvg_net_open(struct net_device *dev)
{
	int ret = pvg_netvsc_rs_open(nic_of(dev));

	if (!ret)
		netif_tx_start_all_queues(dev);
	return ret;
}

static int pvg_net_stop(struct net_device *dev)
{
	netif_tx_disable(dev);
	return pvg_netvsc_rs_stop(nic_of(dev));
}

static netdev_tx_t pvg_net_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	u16 q = skb_get_queue_mapping(skb);

	if (q >= dev->real_num_tx_queues)
		q = 0;
	skb_tx_timestamp(skb);
	return pvg_netvsc_rs_xmit(nic_of(dev), skb, q) ? NETDEV_TX_BUSY : NETDEV_TX_OK;
}

static u16 pvg_net_select_queue(struct net_device *dev, struct sk_buff *skb, struct net_device *sb_dev)
{
	u16 q = pvg_netvsc_rs_select_queue(nic_of(dev), skb_get_hash(skb), dev->real_num_tx_queues);

	return q < dev->real_num_tx_queues ? q : 0;
}

#define PVG_NET_MAX_MC 32

/* Process context, rtnl held: the Rust side sends the filter and waits for the host. */
static int pvg_net_set_rx_mode_async(struct net_device *dev, struct netdev_hw_addr_list *uc,
				     struct netdev_hw_addr_list *mc)
{
	u8 *list = kcalloc(PVG_NET_MAX_MC, ETH_ALEN, GFP_KERNEL);
	struct netdev_hw_addr *ha;
	u32 n = 0, total = 0;
	int ret;

	if (!list)
		return -ENOMEM;
	netdev_hw_addr_list_for_each(ha, mc) {
		if (n < PVG_NET_MAX_MC)
			memcpy(list + ETH_ALEN * n++, ha->addr, ETH_ALEN);
		total++;
	}
	ret = pvg_netvsc_rs_rx_mode(nic_of(dev), dev->flags & IFF_PROMISC, dev->flags & IFF_ALLMULTI,
				    list, n, total);
	kfree(list);
	return ret;
}

static void pvg_net_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct pvg_net_stats st = {};

	pvg_netvsc_rs_stats64(nic_of(dev), &st);
	s->rx_packets = st.rx_packets;
	s->rx_bytes = st.rx_bytes;
	s->tx_packets = st.tx_packets;
	s->tx_bytes = st.tx_bytes;
	s->rx_dropped = st.rx_dropped;
	s->tx_dropped = st.tx_dropped;
	s->rx_errors = st.rx_errors;
	s->multicast = st.multicast;
}

static const struct net_device_ops pvg_net_ops = {
	.ndo_open = pvg_net_open,
	.ndo_stop = pvg_net_stop,
	.ndo_start_xmit = pvg_net_start_xmit,
	.ndo_select_queue = pvg_net_select_queue,
	.ndo_set_rx_mode_async = pvg_net_set_rx_mode_async,
	.ndo_get_stats64 = pvg_net_get_stats64,
	.ndo_validate_addr = eth_validate_addr,
};

/* --- ethtool operations ----------------------------------------------------------------- */

static void pvg_net_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	pvg_netvsc_rs_drvinfo(nic_of(dev), info->fw_version, sizeof(info->fw_version),
			      info->bus_info, sizeof(info->bus_info));
}

static int pvg_net_get_sset_count(struct net_device *dev, int sset)
{
	return sset == ETH_SS_STATS ? pvg_netvsc_rs_sset_count(nic_of(dev)) : -EOPNOTSUPP;
}

static void pvg_net_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	int n = pvg_netvsc_rs_sset_count(nic_of(dev));

	if (sset == ETH_SS_STATS && n > 0)
		pvg_netvsc_rs_strings(nic_of(dev), data, n);
}

static void pvg_net_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *stats, u64 *data)
{
	pvg_netvsc_rs_ethtool_stats(nic_of(dev), data, stats->n_stats);
}

static void pvg_net_get_channels(struct net_device *dev, struct ethtool_channels *ch)
{
	pvg_netvsc_rs_channels(nic_of(dev), &ch->max_combined, &ch->combined_count);
}

static void pvg_net_get_ringparam(struct net_device *dev, struct ethtool_ringparam *r,
				  struct kernel_ethtool_ringparam *kr, struct netlink_ext_ack *ack)
{
	pvg_netvsc_rs_rings(nic_of(dev), &r->rx_max_pending, &r->rx_pending, &r->tx_max_pending,
			    &r->tx_pending);
}

static int pvg_net_get_link_ksettings(struct net_device *dev, struct ethtool_link_ksettings *cmd)
{
	ethtool_link_ksettings_zero_link_mode(cmd, supported);
	ethtool_link_ksettings_zero_link_mode(cmd, advertising);
	cmd->base.speed = netif_carrier_ok(dev) ? pvg_netvsc_rs_speed(nic_of(dev)) : SPEED_UNKNOWN;
	cmd->base.duplex = netif_carrier_ok(dev) ? DUPLEX_FULL : DUPLEX_UNKNOWN;
	cmd->base.port = PORT_OTHER;
	cmd->base.autoneg = AUTONEG_DISABLE;
	return 0;
}

static const struct ethtool_ops pvg_net_ethtool_ops = {
	.get_drvinfo = pvg_net_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = pvg_net_get_sset_count,
	.get_strings = pvg_net_get_strings,
	.get_ethtool_stats = pvg_net_get_ethtool_stats,
	.get_channels = pvg_net_get_channels,
	.get_ringparam = pvg_net_get_ringparam,
	.get_link_ksettings = pvg_net_get_link_ksettings,
	.get_ts_info = ethtool_op_get_ts_info,
};

/* --- the device ------------------------------------------------------------------------- */

static int pvg_net_poll(struct napi_struct *napi, int budget)
{
	struct pvg_net_queue *q = container_of(napi, struct pvg_net_queue, napi);

	return pvg_netvsc_rs_poll(q->nic, q->index, budget);
}

struct net_device *pvg_net_alloc(void *nic, u32 nqueues, struct device *parent);
void pvg_net_free(struct net_device *dev);
void pvg_net_setup(struct net_device *dev, const struct pvg_net_caps *c);
int pvg_net_register(struct net_device *dev);
void pvg_net_unregister(struct net_device *dev);
const char *pvg_net_name(struct net_device *dev);
int pvg_net_set_queues(struct net_device *dev, u32 n);
void pvg_net_carrier(struct net_device *dev, bool on);
bool pvg_net_carrier_ok(struct net_device *dev);
bool pvg_net_rxcsum(struct net_device *dev);
bool pvg_net_rxhash(struct net_device *dev);

/* The net_device with a NAPI context per possible channel (disabled until enabled). */
struct net_device *pvg_net_alloc(void *nic, u32 nqueues, struct device *parent)
{
	struct pvg_net_priv *p;
	struct net_device *dev;
	u32 i;

	if (!nqueues || nqueues > 64)
		return NULL;
	dev = alloc_etherdev_mqs(struct_size(p, q, nqueues), nqueues, nqueues);
	if (!dev)
		return NULL;
	p = netdev_priv(dev);
	p->nic = nic;
	p->nqueues = nqueues;
	for (i = 0; i < nqueues; i++) {
		p->q[i].nic = nic;
		p->q[i].index = i;
		netif_napi_add(dev, &p->q[i].napi, pvg_net_poll);
	}
	SET_NETDEV_DEV(dev, parent);
	dev->netdev_ops = &pvg_net_ops;
	dev->ethtool_ops = &pvg_net_ethtool_ops;
	netif_carrier_off(dev);
	netif_set_real_num_tx_queues(dev, 1);
	netif_set_real_num_rx_queues(dev, 1);
	return dev;
}

/* NAPI contexts must be disabled (or never enabled) and the device unregistered. */
void pvg_net_free(struct net_device *dev)
{
	struct pvg_net_priv *p = netdev_priv(dev);
	u32 i;

	for (i = 0; i < p->nqueues; i++)
		netif_napi_del(&p->q[i].napi);
	free_netdev(dev);
}

/* MAC, MTU range and the offloads the host offers (before register). */
void pvg_net_setup(struct net_device *dev, const struct pvg_net_caps *c)
{
	netdev_features_t f = NETIF_F_SG | NETIF_F_RXCSUM | NETIF_F_RXHASH | NETIF_F_HIGHDMA |
			      NETIF_F_HW_VLAN_CTAG_TX | NETIF_F_HW_VLAN_CTAG_RX;

	eth_hw_addr_set(dev, c->mac);
	dev->min_mtu = c->min_mtu;
	dev->max_mtu = c->max_mtu;
	if (c->csum_ip4)
		f |= NETIF_F_IP_CSUM;
	if (c->csum_ip6)
		f |= NETIF_F_IPV6_CSUM;
	if (c->tso4)
		f |= NETIF_F_TSO;
	if (c->tso6)
		f |= NETIF_F_TSO6;
	dev->hw_features = f;
	dev->features = f;
	dev->vlan_features = f & ~(NETIF_F_HW_VLAN_CTAG_TX | NETIF_F_HW_VLAN_CTAG_RX);
	dev->needed_headroom = c->headroom;
	if (c->tso4 || c->tso6)
		netif_set_tso_max_size(dev, c->tso_max);
}

int pvg_net_register(struct net_device *dev)
{
	return register_netdev(dev);
}

void pvg_net_unregister(struct net_device *dev)
{
	unregister_netdev(dev);
}

const char *pvg_net_name(struct net_device *dev)
{
	return dev->name;
}

/* Channels in use changed (after sub-channels opened): tx and rx queues, under rtnl. */
int pvg_net_set_queues(struct net_device *dev, u32 n)
{
	int ret;

	rtnl_lock();
	ret = netif_set_real_num_tx_queues(dev, n);
	if (!ret)
		ret = netif_set_real_num_rx_queues(dev, n);
	rtnl_unlock();
	return ret;
}

void pvg_net_carrier(struct net_device *dev, bool on)
{
	if (on)
		netif_carrier_on(dev);
	else
		netif_carrier_off(dev);
}

bool pvg_net_carrier_ok(struct net_device *dev)
{
	return netif_carrier_ok(dev);
}

bool pvg_net_rxcsum(struct net_device *dev)
{
	return READ_ONCE(dev->features) & NETIF_F_RXCSUM;
}

bool pvg_net_rxhash(struct net_device *dev)
{
	return READ_ONCE(dev->features) & NETIF_F_RXHASH;
}

/* --- NAPI and transmit queues ----------------------------------------------------------- */

void pvg_net_napi_enable(struct net_device *dev, u32 q);
void pvg_net_napi_disable(struct net_device *dev, u32 q);
void pvg_net_napi_schedule(struct net_device *dev, u32 q);
bool pvg_net_napi_complete(struct net_device *dev, u32 q, int done);
void pvg_net_tx_stop(struct net_device *dev, u32 q);
void pvg_net_tx_wake(struct net_device *dev, u32 q);
bool pvg_net_tx_stopped(struct net_device *dev, u32 q);

static struct napi_struct *napi_of(struct net_device *dev, u32 q)
{
	struct pvg_net_priv *p = netdev_priv(dev);

	return q < p->nqueues ? &p->q[q].napi : NULL;
}

void pvg_net_napi_enable(struct net_device *dev, u32 q)
{
	struct napi_struct *n = napi_of(dev, q);

	if (n)
		napi_enable(n);
}

void pvg_net_napi_disable(struct net_device *dev, u32 q)
{
	struct napi_struct *n = napi_of(dev, q);

	if (n)
		napi_disable(n);
}

void pvg_net_napi_schedule(struct net_device *dev, u32 q)
{
	struct napi_struct *n = napi_of(dev, q);

	if (n)
		napi_schedule(n);
}

bool pvg_net_napi_complete(struct net_device *dev, u32 q, int done)
{
	struct napi_struct *n = napi_of(dev, q);

	return n && napi_complete_done(n, done);
}

void pvg_net_tx_stop(struct net_device *dev, u32 q)
{
	if (q < dev->num_tx_queues)
		netif_tx_stop_queue(netdev_get_tx_queue(dev, q));
}

void pvg_net_tx_wake(struct net_device *dev, u32 q)
{
	if (q < dev->num_tx_queues && netif_tx_queue_stopped(netdev_get_tx_queue(dev, q)) &&
	    netif_running(dev))
		netif_tx_wake_queue(netdev_get_tx_queue(dev, q));
}

bool pvg_net_tx_stopped(struct net_device *dev, u32 q)
{
	return q < dev->num_tx_queues && netif_tx_queue_stopped(netdev_get_tx_queue(dev, q));
}

/* --- receive ---------------------------------------------------------------------------- */

struct sk_buff *pvg_net_rx_copy(struct net_device *dev, u32 q, const void *src, u32 len, u8 **data);
void pvg_net_rx_deliver(struct net_device *dev, u32 q, struct sk_buff *skb, u32 off, u32 len,
			bool csum_ok, int vlan_tci, bool has_hash, u32 hash);
void pvg_net_skb_free(struct sk_buff *skb);
void pvg_net_skb_consume(struct sk_buff *skb);

/* A private copy of `len` bytes of the receive buffer (which the host may rewrite at any
 * time) in a fresh skb; `*data` points at the copy for parsing. */
struct sk_buff *pvg_net_rx_copy(struct net_device *dev, u32 q, const void *src, u32 len, u8 **data)
{
	struct napi_struct *n = napi_of(dev, q);
	struct sk_buff *skb;

	if (!n || !len)
		return NULL;
	skb = napi_alloc_skb(n, len);
	if (!skb)
		return NULL;
	*data = skb_put(skb, len);
	memcpy(*data, src, len);
	return skb;
}

/* Trims the copy to the frame at [off, off + len) (checked by the Rust parser to lie inside
 * it) and hands it to the stack with its metadata. */
void pvg_net_rx_deliver(struct net_device *dev, u32 q, struct sk_buff *skb, u32 off, u32 len,
			bool csum_ok, int vlan_tci, bool has_hash, u32 hash)
{
	struct napi_struct *n = napi_of(dev, q);

	if (!n || off > skb->len || len > skb->len - off || len < ETH_HLEN) {
		dev_kfree_skb_any(skb);
		return;
	}
	__skb_pull(skb, off);
	__skb_trim(skb, len);
	skb->protocol = eth_type_trans(skb, dev);
	if (csum_ok && (dev->features & NETIF_F_RXCSUM))
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	if (vlan_tci >= 0 && (dev->features & NETIF_F_HW_VLAN_CTAG_RX))
		__vlan_hwaccel_put_tag(skb, htons(ETH_P_8021Q), vlan_tci);
	if (has_hash && (dev->features & NETIF_F_RXHASH))
		skb_set_hash(skb, hash, PKT_HASH_TYPE_L4);
	skb_record_rx_queue(skb, q);
	napi_gro_receive(n, skb);
}

void pvg_net_skb_free(struct sk_buff *skb)
{
	dev_kfree_skb_any(skb);
}

void pvg_net_skb_consume(struct sk_buff *skb)
{
	dev_consume_skb_any(skb);
}

/* --- transmit --------------------------------------------------------------------------- */

int pvg_net_tx_meta(struct sk_buff *skb, u32 headroom, struct pvg_net_tx_meta *m);
int pvg_net_tx_checksum(struct sk_buff *skb);
void pvg_net_tx_lso_prep(struct sk_buff *skb, bool ipv6);
void *pvg_net_tx_head(struct sk_buff *skb);
int pvg_net_tx_copy(struct sk_buff *skb, void *dst, u32 len);
int pvg_net_tx_pieces(struct sk_buff *skb, int (*fn)(void *ctx, u64 phys, u32 len), void *ctx);
int pvg_net_tx_linearize(struct sk_buff *skb);

/*
 * Makes the skb's head private with `headroom` bytes before the data (for the RNDIS header,
 * written at skb->head) and describes it. 0, or -ENOMEM (drop the frame).
 */
int pvg_net_tx_meta(struct sk_buff *skb, u32 headroom, struct pvg_net_tx_meta *m)
{
	__be16 proto;

	if (skb_cow_head(skb, headroom))
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->len = skb->len;
	m->headlen = skb_headlen(skb);
	m->nr_frags = skb_shinfo(skb)->nr_frags;
	m->hash = skb_get_hash_raw(skb);
	if (skb_vlan_tag_present(skb)) {
		m->has_vlan = 1;
		m->vlan_tci = skb_vlan_tag_get(skb);
	}
	m->csum_partial = skb->ip_summed == CHECKSUM_PARTIAL;
	if (m->csum_partial)
		m->transport_offset = skb_checksum_start_offset(skb);
	if (skb_is_gso(skb)) {
		m->gso = 1;
		m->gso_size = skb_shinfo(skb)->gso_size;
		m->transport_offset = skb_transport_offset(skb);
	}
	proto = skb->protocol;
	if (proto == htons(ETH_P_IP) && skb_network_header_len(skb) >= sizeof(struct iphdr)) {
		m->l3 = 1;
		if (m->csum_partial || m->gso)
			m->l4 = ip_hdr(skb)->protocol == IPPROTO_TCP ? 1 :
				ip_hdr(skb)->protocol == IPPROTO_UDP ? 2 : 0;
	} else if (proto == htons(ETH_P_IPV6) && skb_network_header_len(skb) >= sizeof(struct ipv6hdr)) {
		m->l3 = 2;
		if (m->csum_partial || m->gso)
			m->l4 = ipv6_hdr(skb)->nexthdr == IPPROTO_TCP ? 1 :
				ipv6_hdr(skb)->nexthdr == IPPROTO_UDP ? 2 : 0;
	}
	if (m->gso && !(skb_shinfo(skb)->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6)))
		m->l4 = 0;	/* only TCP segmentation is offered */
	return 0;
}

/* The stack's partial checksum, completed in software. */
int pvg_net_tx_checksum(struct sk_buff *skb)
{
	return skb_checksum_help(skb);
}

/* The headers as LSOv2 wants them (what netvsc_xmit() does): IPv4 total length and header
 * checksum zero, TCP checksum the pseudo header without length; IPv6 payload length zero. */
void pvg_net_tx_lso_prep(struct sk_buff *skb, bool ipv6)
{
	if (!ipv6) {
		struct iphdr *iph = ip_hdr(skb);

		iph->tot_len = 0;
		iph->check = 0;
		tcp_hdr(skb)->check = ~csum_tcpudp_magic(iph->saddr, iph->daddr, 0, IPPROTO_TCP, 0);
	} else {
		ipv6_hdr(skb)->payload_len = 0;
		tcp_hdr(skb)->check = ~csum_ipv6_magic(&ipv6_hdr(skb)->saddr, &ipv6_hdr(skb)->daddr,
						       0, IPPROTO_TCP, 0);
	}
}

/* Where the RNDIS header goes: the start of the (private, pvg_net_tx_meta) headroom. */
void *pvg_net_tx_head(struct sk_buff *skb)
{
	return skb->head;
}

/* Copies the whole frame (linear part and fragments) to `dst`. */
int pvg_net_tx_copy(struct sk_buff *skb, void *dst, u32 len)
{
	if (len != skb->len)
		return -EINVAL;
	return skb_copy_bits(skb, 0, dst, len);
}

/* Calls fn with the guest-physical address and length of the linear part and of each
 * fragment, in order; stops at the first non-zero return and returns it. */
int pvg_net_tx_pieces(struct sk_buff *skb, int (*fn)(void *ctx, u64 phys, u32 len), void *ctx)
{
	u32 i;
	int ret;

	if (skb_headlen(skb)) {
		ret = fn(ctx, virt_to_phys(skb->data), skb_headlen(skb));
		if (ret)
			return ret;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];
		struct page *page = skb_frag_page(f);

		if (!page)
			return -EFAULT;
		if (!skb_frag_size(f))
			continue;
		ret = fn(ctx, page_to_phys(page) + skb_frag_off(f), skb_frag_size(f));
		if (ret)
			return ret;
	}
	return 0;
}

int pvg_net_tx_linearize(struct sk_buff *skb)
{
	return skb_linearize(skb);
}

/* --- work items (drivers/common/kwork.rs) ----------------------------------------------- */

#include "../common/kwork.c"

/* --- memory, CPUs ----------------------------------------------------------------------- */

void *pvg_net_vzalloc(u32 len);
void pvg_net_vfree(void *p);
u64 pvg_net_virt_to_phys(const void *p);
u32 pvg_net_num_online_cpus(void);
int pvg_net_nth_online_cpu(u32 n);

/* The receive and send buffers: page aligned, zeroed (no stale bytes reach the host). */
void *pvg_net_vzalloc(u32 len)
{
	return vzalloc(len);
}

void pvg_net_vfree(void *p)
{
	vfree(p);
}

u64 pvg_net_virt_to_phys(const void *p)
{
	return virt_to_phys((void *)p);
}

u32 pvg_net_num_online_cpus(void)
{
	return num_online_cpus();
}

int pvg_net_nth_online_cpu(u32 n)
{
	unsigned int cpu = cpumask_nth(n, cpu_online_mask);

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}

